#include "workspace.hpp"

#include "ops/retention.hpp"

#include <algorithm>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <boost/json/parse.hpp>

namespace exportd::testing {

namespace fs = std::filesystem;

Workspace::Workspace(const std::string& name) {
  dir_ = (fs::temp_directory_path() / ("exportd-" + name + "-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
}

Workspace::~Workspace() {
  if (std::getenv("EXPORTD_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string Workspace::write(const std::string& name, const std::string& text) const {
  const auto p = path(name);
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string Workspace::write_config(std::uint16_t port, bool tls, const std::string& user_key, const std::string& extra,
                                    const std::string& api_extra) const {
  write("user_key", user_key + "\n");
  std::ostringstream c;
  c << "api:\n"
    << "  base_url: " << (tls ? "https" : "http") << "://127.0.0.1:" << port << "\n"
    << "  app_id: demo-app\n"
    << "  user_key_file: user_key\n"
    << api_extra << "state_dir: state\n"
    << extra;
  return write("config.yaml", c.str());
}

std::string Workspace::write_export_jobs(const std::string& file, int count, const std::string& prefix) const {
  std::ostringstream j;
  j << "jobs:\n";
  char id[32];
  for (int i = 0; i < count; ++i) {
    std::snprintf(id, sizeof id, "%s%04d", prefix.c_str(), i);
    j << "  - project_id: " << id << "\n";
  }
  return write(file, j.str());
}

std::string Workspace::read(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Workspace::results_text() const {
  // Every results file, oldest first: the rotated ones (their names sort by
  // time), then results.jsonl.
  std::string text;
  for (const auto& name : rotated_results_in(path("state"))) text += read(path("state/" + name));
  return text + read(path("state/results.jsonl"));
}

std::vector<boost::json::object> Workspace::results() const {
  std::vector<boost::json::object> out;
  const auto text = results_text();
  // Only whole lines: a running daemon may be appending the last one as it is read.
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    out.push_back(boost::json::parse(std::string_view(text).substr(at, nl - at)).as_object());
  return out;
}

std::string exportd_binary() {
  // EXPORTD_TEST_BINARY runs the tests against another build (e.g. an older commit's).
  const char* other = std::getenv("EXPORTD_TEST_BINARY");
  return other != nullptr && *other != '\0' ? other : EXPORTD_BINARY;
}

}  // namespace exportd::testing
