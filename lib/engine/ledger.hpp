#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "jobs/resume.hpp"
#include "ops/results.hpp"

namespace exportd {

// What recovery decides for one job.
enum class Recovery : std::uint8_t {
  fresh,      // nothing sent yet: submit
  in_doubt,   // a submit was sent but its answer never recorded: ask the API before sending another
  submitted,  // resume polling the known project id, no new export
  downloading,  // exported: resume its download from the bytes on disk
  delivering,   // done, its delivery command started (SPEC §13): delivered again, at least once
  ended,      // done: never redone (its result line is re-appended if it went missing)
};

// The API accepted the job's export (it is polled or its video downloaded).
inline bool export_accepted(Recovery r) {
  return r == Recovery::submitted || r == Recovery::downloading || r == Recovery::delivering;
}

// What a delivery needs, journaled before its command first starts: after a
// crash the same job is delivered again with the same values.
struct DeliveryRecord {
  std::string url;     // the video's link
  std::string file;    // absolute path ("" with downloads off)
  std::string sha256;  // of the file
  std::uint64_t bytes = 0;
  bool operator==(const DeliveryRecord&) const = default;
};

// A download under way, as the journal keeps it: recorded when the export
// finished, and again before the first byte of every reply that starts or
// restarts the file (its validator and length).
struct DownloadRecord {
  std::string url;                     // the latest link
  std::string file;                    // the final path (NAME; the bytes are in NAME.part)
  std::string validator;               // "" until a reply said
  std::optional<std::uint64_t> total;  // the video's length, once known
  Checkpoint checkpoint;               // the prefix of NAME.part vouched for, and its digest ({}: none yet)
};

struct RecoveredJob {
  Recovery state = Recovery::fresh;
  std::string project_id;
  std::int64_t submitted_at_ms = 0;
  std::uint32_t submissions = 0;  // submit records seen
  boost::json::object result;     // when ended: its results.jsonl object
  DownloadRecord download;        // when downloading
  DeliveryRecord delivery;        // when delivering
  // A create job's: in_doubt, what its create may have done (accepted: the
  // API said so, without an id); ended, the same when it ended in doubt.
  CreateReach reach = CreateReach::none;
  std::string created;  // ended: the project its create made, when known (a later run polls it, never creates again)

  std::chrono::system_clock::time_point submitted_at() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(submitted_at_ms));
  }
};

// Where the exporter writes down what it knows before it acts on it. Each
// call returns once the fact is durable; the exporter waits for it.
class JobLedger {
 public:
  virtual ~JobLedger() = default;
  // Before a job's delivery command first starts (SPEC §13).
  virtual boost::asio::awaitable<void> delivering(const std::string& batch, const std::string& job,
                                                  const DeliveryRecord& record) = 0;
  // Before an export or create request is sent.
  virtual boost::asio::awaitable<void> submit_started(const std::string& batch, const std::string& job) = 0;
  // After the API accepted it, before its polls are scheduled. An empty
  // `project`: a create accepted without a usable id (looked up, never sent again).
  virtual boost::asio::awaitable<void> submitted(const std::string& batch, const std::string& job,
                                                 const std::string& project,
                                                 std::chrono::system_clock::time_point at) = 0;
  // A job ended: record it and append its results.jsonl line.
  // The download's state, before bytes are written under it (see DownloadRecord).
  virtual boost::asio::awaitable<void> downloading(const std::string& batch, const std::string& job,
                                                   const DownloadRecord& record) = 0;
  virtual boost::asio::awaitable<void> ended(const std::string& batch, const JobResult& result) = 0;
  // Every job of the batch handed to the exporter has ended. (How the batch
  // went is the ledger's to judge: it also knows the jobs that ended before a restart.)
  virtual boost::asio::awaitable<void> batch_ended(const std::string& batch) = 0;
};

}  // namespace exportd
