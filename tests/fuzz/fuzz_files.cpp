// Fuzz target: the config and job-file loaders (YAML, schema, durations,
// scenes files) on any bytes. Properties: no exception escapes; a file is
// either accepted or has at least one FILE:LINE:COL diagnostic; every
// diagnostic and accepted key is valid UTF-8 without control characters.

#include <algorithm>
#include <cstdint>
#include <cstdio>
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
    std::ofstream(d + "/scenes.json") << R"([{"sceneIdx":0,"background":{},"clips":[]}])";
    // A template and its rows, for job files that name them (template: template.json, rows: rows.csv).
    std::ofstream(d + "/template.json")
        << R"([{"sceneIdx":0,"background":{},"clips":[{"id":"m","type":"aiModel","layer":1,"top":0,"left":0,)"
           R"("height":1,"width":1,"script":{"org":"<p>{{name}}</p>"}}]}])";
    std::ofstream(d + "/rows.csv") << "id,name\r\na,\"Tom & \"\"J\"\"\"\r\nb,Zoë\r\nc,Cy\r\n";
    return d;
  }();
  static std::string path;
  path = dir + "/" + name;
  return path;
}

// Every problem is one clean line that names the file and a position from 1:1.
void check(const exportd::Failure& f, const std::string& path) {
  std::string_view rest = f.message;
  if (rest.empty()) std::abort();
  while (!rest.empty()) {
    const auto line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    int l = 0, c = 0;
    // A problem of the job file, or of the rows file it names (a cell's line and column).
    const std::string rows = scratch("rows.csv");
    const auto& file = line.substr(0, rows.size() + 1) == rows + ":" ? rows : path;
    if (line.substr(0, file.size() + 1) != file + ":" ||
        std::sscanf(std::string(line.substr(file.size() + 1)).c_str(), "%d:%d", &l, &c) != 2 || l < 1 || c < 1 ||
        !exportd::is_utf8(line) || exportd::has_control(line))
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace exportd;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string path = scratch("input.yaml");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;

  auto config = load_config(path);
  if (!config) check(config.error(), path);

  JobFileOrigin origin{"input.yaml", scratch(""), {scratch("")}, {}};
  auto jobs = load_job_file(path, {}, origin);
  if (!jobs) check(jobs.error(), path);
  if (jobs)
    for (const auto& j : *jobs)
      if (!is_utf8(j.key) || has_control(j.key)) std::abort();
  return 0;
}
