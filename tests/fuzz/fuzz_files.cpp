// Fuzz target: the config and job-file loaders (YAML, schema, durations,
// scenes files) on any bytes. Properties: no exception escapes; a file is
// either accepted or has at least one FILE:LINE:COL diagnostic; every
// diagnostic and accepted key is valid UTF-8 without control characters.

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "config/config.hpp"
#include "jobs/job_file.hpp"
#include "text/safe_text.hpp"

namespace {

const std::string& scratch(const char* name) {
  static const std::string dir = [] {
    std::string d = "/tmp/exportd-fuzz-" + std::to_string(::getpid());
    ::mkdir(d.c_str(), 0700);
    std::ofstream(d + "/scenes.json") << R"([{"sceneIdx":0}])";
    return d;
  }();
  static std::string path;
  path = dir + "/" + name;
  return path;
}

void check(const exportd::Diagnostics& d) {
  for (const auto& item : d.items())
    if (!exportd::is_utf8(item.message) || exportd::has_control(item.message) || item.line < 1 || item.column < 1)
      std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace exportd;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string path = scratch("input.yaml");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;

  Diagnostics cd(path);
  auto config = load_config(path, cd);
  if (!config && cd.empty()) std::abort();
  check(cd);

  Diagnostics jd(path);
  JobFileOrigin origin{"input.yaml", scratch(""), {scratch("")}};
  auto jobs = load_job_file(path, {}, jd, origin);
  if (!jobs && jd.empty()) std::abort();
  check(jd);
  if (jobs)
    for (const auto& j : *jobs)
      if (!is_utf8(j.key) || has_control(j.key)) std::abort();
  return 0;
}
