#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "api/wire.hpp"

namespace exportd {

// How a job ended (results.jsonl "status").
enum class JobOutcome : std::uint8_t {
  succeeded,  // exported; download_url set
  failed,     // refused, retries ran out, or could not be sent; error set
  timed_out,  // not finished within polling.job_timeout
};
std::string_view to_string(JobOutcome o);
// "succeeded" | "failed" | "timed_out" as written in results.jsonl and the journal.
std::optional<JobOutcome> job_outcome_from(std::string_view text);

// A results line's string field ("" when absent or not a string), and its
// count field (0 when absent, negative or not a number): how readers of
// results.jsonl take a line written by any build.
std::string result_text(const boost::json::object& line, std::string_view key);
std::uint64_t result_count(const boost::json::object& line, std::string_view key);

// One line of results.jsonl (SPEC §5).
struct JobResult {
  std::string job;
  std::string batch;  // the batch it ran in (an addition to SPEC §5)
  std::string project_id;
  JobOutcome status = JobOutcome::failed;
  std::string download_url;
  std::optional<JobError> error;
  std::optional<std::chrono::system_clock::time_point> submitted_at;
  std::chrono::system_clock::time_point finished_at;
  std::uint32_t attempts = 0;
  std::uint32_t requests = 0;
  std::uint32_t row = 0;  // a template job's CSV line (SPEC §12), 0 for any other
  // Delivery (SPEC §13): when its command succeeded, and how many runs it took.
  std::optional<std::chrono::system_clock::time_point> exported_at;    // its export seen finished
  std::optional<std::chrono::system_clock::time_point> delivering_at;  // its delivery command first started
  std::optional<std::chrono::system_clock::time_point> delivered_at;
  std::uint32_t deliveries = 0;
  // With downloads on, the video it left on disk.
  struct Video {
    std::string file;  // absolute path
    std::uint64_t bytes = 0;
    std::string sha256;  // hex
  };
  std::optional<Video> video;
  // Kept in the journal only (not results.jsonl): what a create job leaves
  // for a later run of its batch, so that it never makes a second project.
  CreateReach reach = CreateReach::none;  // ended in doubt: looked up first
  bool created = false;                   // its create made project_id: polled, never created again
};

boost::json::object to_json(const JobResult& r);
// The status of a result object read back (journal, results.jsonl); nothing if it has none we know.
std::optional<JobOutcome> outcome_of(const boost::json::object& result);
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

  // Retention (SPEC §11): once a flush takes the file past `max_size` it is
  // renamed to results-STAMP.jsonl beside it (whole lines only, so every
  // result is in exactly one file) and a new one is begun; rotated files
  // beyond `keep` (0: all kept) are removed, oldest first.
  void rotate_past(std::uint64_t max_size, std::uint32_t keep) {
    max_size_ = max_size;
    keep_ = keep;
  }
  // The files this object rotated, oldest first (the latest 1000).
  const std::vector<std::string>& rotated() const { return rotated_; }
  std::uint64_t rotations() const { return rotations_; }

 private:
  void rotate();

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  std::uint64_t max_size_ = 0;  // 0: never rotated
  std::uint32_t keep_ = 0;
  std::vector<std::string> rotated_;
  std::uint64_t rotations_ = 0;
};

}  // namespace exportd
