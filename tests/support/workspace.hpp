#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace exportd::testing {

// A scratch folder holding one exportd setup: config, key, job files, state.
// Removed on destruction unless EXPORTD_KEEP_TEST_DIRS is set.
class Workspace {
 public:
  explicit Workspace(const std::string& name);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string write(const std::string& name, const std::string& text) const;

  // config.yaml against a simulator on 127.0.0.1:port; `extra` is appended
  // verbatim (top-level YAML). The user key goes into the file `user_key`.
  std::string write_config(std::uint16_t port, bool tls, const std::string& user_key, const std::string& extra,
                           const std::string& api_extra = "") const;

  // A job file with `count` export jobs for projects prefix0000, prefix0001, ...
  std::string write_export_jobs(const std::string& file, int count, const std::string& prefix = "p") const;

  std::vector<boost::json::object> results() const;  // every results file: rotated ones, then results.jsonl
  std::string results_text() const;
  static std::string read(const std::string& path);

 private:
  std::string dir_;
};

// The exportd binary built alongside the tests.
std::string exportd_binary();

}  // namespace exportd::testing
