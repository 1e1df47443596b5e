#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ops/durable_write.hpp"
#include "schedule/signal.hpp"
#include "spool/journal_record.hpp"

namespace exportd {

// The append-only journal (state_dir/journal.jsonl). commit() returns only
// once the record is on disk (write + fdatasync); records committed in the
// same turn of the event loop share one sync. A failed write or sync throws
// std::system_error: the daemon stops rather than act on state it could not
// save.
class Journal {
 public:
  Journal(boost::asio::any_io_executor ex, std::string path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  static std::string read_all(const std::string& path);
  // Replaces the journal with `records`, atomically (temp file, fsync, rename,
  // fsync of the folder). Used at start-up to drop closed batches.
  static void rewrite(const std::string& path, const std::vector<JournalRecord>& records);

  // Compaction while the daemon runs: replaces the file with `records` and
  // appends to the new one from now on. Only with nothing pending; the same
  // object goes on, so coroutines still waking from their commit's sync find
  // it alive (they hold `this`).
  void replace(const std::vector<JournalRecord>& records);

  boost::asio::awaitable<void> commit(const JournalRecord& record);
  void commit_now(const JournalRecord& record);  // synchronous, for start-up and shutdown

  std::uint64_t syncs() const { return syncs_; }
  // Records handed to commit() and not yet on disk.
  bool pending() const { return synced_ < queued_ || !pending_.empty(); }

 private:
  void flush();

  boost::asio::any_io_executor ex_;
  std::string path_;
  int fd_ = -1;
  std::string pending_;
  std::uint64_t queued_ = 0;  // records handed to commit()
  std::uint64_t synced_ = 0;  // of those, on disk
  bool flush_posted_ = false;
  Signal on_sync_;
  std::uint64_t syncs_ = 0;
};

}  // namespace exportd
