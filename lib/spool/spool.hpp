#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "error/error.hpp"
#include "ops/digest.hpp"
#include "ops/durable_write.hpp"

namespace exportd {

// The folders of state_dir (SPEC §5). Every move is a rename within one file
// system followed by an fsync of both folders, so a file is always in exactly
// one place after a crash.
class Spool {
 public:
  enum class Access : unsigned char {
    write,  // create the folders if needed and check they take writes; throws std::system_error
    read,   // only name the paths (exportd status)
  };
  explicit Spool(std::string state_dir, Access access = Access::write);

  const std::string& root() const { return root_; }
  std::string incoming() const { return root_ + "/incoming"; }
  std::string active() const { return root_ + "/active"; }
  std::string done() const { return root_ + "/done"; }
  std::string rejected() const { return root_ + "/rejected"; }
  std::string results_path() const { return root_ + "/results.jsonl"; }
  std::string journal_path() const { return root_ + "/journal.jsonl"; }
  std::string status_path() const { return root_ + "/status.json"; }
  // A batch's copy of its job file; the batch id already ends in the file's name.
  std::string snapshot(const std::string& batch) const { return active() + "/" + batch; }

  // A name the drop folder takes: *.yaml or *.yml, not a dot-file, not *.tmp.
  static bool takes(const std::string& name);
  // NAME.error: the note written beside a file moved to rejected/.
  static bool is_error_note(const std::string& name);
  // rejected/NAME.error, the note for rejected/NAME.
  std::string error_note(const std::string& name) const;
  // Files waiting in incoming/, oldest first.
  std::vector<std::string> waiting() const;

  // A fresh batch id for a job file: UTC time, a sequence number, the name's stem.
  std::string new_batch_id(const std::string& name);

  // incoming/NAME -> active/BATCH.yaml. False (and `error`) if it is gone.
  Result<void> claim(const std::string& name, const std::string& batch);
  // incoming/NAME -> rejected/NAME, with rejected/NAME.error holding `why`.
  void reject(const std::string& name, const std::string& why);
  // active/BATCH -> rejected/BATCH, with rejected/BATCH.error holding `why`.
  void reject_batch(const std::string& batch, const std::string& why);
  // active/BATCH.yaml -> done/BATCH.yaml
  void file_away(const std::string& batch);
  // Writes active/BATCH.yaml with `content` (a queue file's snapshot), durably.
  void write_snapshot(const std::string& batch, const std::string& content);

 private:
  std::string root_;
  unsigned sequence_ = 0;
};

std::string read_file(const std::string& path);

// Retention (SPEC §11): removes job files in done/ and rejected/ (each with
// its .error) and rotated results files older than retention.done_days or
// beyond their counts, oldest first. Never touches incoming/, active/,
// results.jsonl or the journal.
struct Pruned {
  std::size_t done = 0, rejected = 0, results = 0;
  std::size_t total() const { return done + rejected + results; }
};
Pruned prune_spool(const Spool& spool, const RetentionSettings& retention, std::chrono::system_clock::time_point now);

// One process per state_dir: an exclusive lock (flock) on state_dir/lock,
// held for the life of the object and dropped by the kernel when the
// process ends, kill -9 included.
class StateLock {
 public:
  // Throws std::runtime_error naming the holder's pid when another process holds it.
  explicit StateLock(const std::string& state_dir);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace exportd
