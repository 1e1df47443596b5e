#pragma once

// The journal's records and the recovery rules, as pure code: what the daemon
// knew before a crash, rebuilt from the lines it had fsynced.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "engine/ledger.hpp"

namespace exportd {

enum class RecordKind : std::uint8_t {
  batch,      // a job file was taken: its snapshot is active/<batch>.yaml
  submit,     // an export/create request is about to be sent for a job
  submitted,  // the API accepted it; project id known
  download,   // the job's video is being downloaded: link, file, validator and length
  delivering, // the job's delivery command is about to start: link, file, SHA-256, bytes
  ended,      // the job ended; the result line travels with it
  closed,     // every job of the batch has ended and the batch was filed away
  reopened,   // a parked queue batch runs again: its failed jobs start afresh
};

// Where a batch came from, read from the journal's "origin" once.
struct BatchOrigin {
  enum class Kind : std::uint8_t {
    drop,   // a file dropped in incoming/ (or `exportd submit`)
    queue,  // a queue file named in the config or on the command line
  };
  Kind kind = Kind::drop;
  std::string queue_file;  // queue: its absolute path
  static BatchOrigin drop() { return {}; }
  static BatchOrigin queue(std::string absolute_path) { return {Kind::queue, std::move(absolute_path)}; }
  // "drop" or "queue:<absolute path>", as journaled.
  std::string text() const { return kind == Kind::queue ? "queue:" + queue_file : "drop"; }
  static BatchOrigin from_text(std::string_view text);
  bool operator==(const BatchOrigin&) const = default;
};

struct JournalRecord {
  RecordKind kind = RecordKind::batch;
  std::string batch;                 // every kind
  std::string job;                   // submit, submitted, download, ended: the job key
  std::string project;               // submitted: the id to poll
  std::int64_t at_ms = 0;            // submitted, reopened: when, ms since the Unix epoch
  CreateReach reach = CreateReach::none;  // ended: a create job that ended in doubt
  std::string created;               // ended: the project a create job made, when known
  boost::json::object result;        // ended: the results.jsonl object
  DownloadRecord download;           // download
  DeliveryRecord delivery;           // delivering
  // batch only:
  std::string name;                  // the job file's own name (keys are name#id)
  BatchOrigin origin;
  std::string base_dir;              // where relative paths in the file resolve
  std::string digest;                // content digest, to recognise a re-run queue file
  std::string snapshot_digest;       // digest of active/<batch> as claimed: a file changed there is not run
  std::string rows_digest;           // of the rows files its template jobs read: a batch is not run on from changed rows
  std::uint64_t results_offset = 0;  // size of results.jsonl when the batch began
};

std::string encode(const JournalRecord& r);  // one line, no newline
std::optional<JournalRecord> decode(std::string_view line);

struct RecoveredBatch {
  JournalRecord header;  // the batch record
  bool closed = false;
  std::map<std::string, RecoveredJob> jobs;  // by key; jobs never mentioned are fresh
};

struct JournalReplay {
  std::vector<RecoveredBatch> batches;  // in the order they began; closed ones included
  std::size_t records = 0;
  std::size_t bad_lines = 0;  // unparseable lines skipped
  bool torn_tail = false;     // the last line had no newline (a write cut short): ignored
};

JournalReplay replay(std::string_view text);

// What a job's end leaves for a later run of its batch (a parked queue file run again).
struct EndedJob {
  bool succeeded = false;
  CreateReach reach = CreateReach::none;  // a create that ended in doubt
  std::string created;                    // the project a create made
};
EndedJob ended_job(const RecoveredJob& r);
// How a job that did not succeed starts when its batch runs again at
// `at_ms`: a create that may have made a project is looked up first, one
// whose project is known polls it (its deadline counting from `at_ms`);
// anything else starts afresh. A create is never sent twice for one project.
RecoveredJob run_again(const EndedJob& e, std::int64_t at_ms);

// The shortest journal that replays to the same open batches: closed batches
// and superseded records dropped, each job's submit count kept.
std::vector<JournalRecord> compact(const JournalReplay& replayed);

}  // namespace exportd
