#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "api/wire.hpp"

namespace exportd {

// One line of results.jsonl (SPEC §5).
struct JobResult {
  std::string job;
  std::string batch;  // the batch it ran in (an addition to SPEC §5)
  std::string project_id;
  std::string status;  // succeeded | failed | timed_out
  std::string download_url;
  std::optional<ApiError> error;
  std::optional<std::chrono::system_clock::time_point> submitted_at;
  std::chrono::system_clock::time_point finished_at;
  std::uint32_t attempts = 0;
  std::uint32_t requests = 0;
};

boost::json::object to_json(const JobResult& r);
std::string to_json_line(const JobResult& r);  // without the newline

// results.jsonl, appended and fsynced. Lines are batched: append() queues,
// flush() writes everything queued with one write and one fdatasync, so a
// burst of endings costs one disk sync.
class ResultsFile {
 public:
  explicit ResultsFile(std::string path);
  ~ResultsFile();
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;

  void append(const JobResult& r);
  void append_line(const std::string& json_line);
  // Throws std::system_error on a write or sync failure: a result that cannot
  // be recorded must stop the daemon, not vanish.
  void flush();
  bool pending() const { return !buffer_.empty(); }
  // Opens the path again if the file was removed or renamed since it was opened.
  void reopen_if_moved();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace exportd
