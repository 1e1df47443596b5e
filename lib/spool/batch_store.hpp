#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "config/settings.hpp"
#include "engine/ledger.hpp"
#include "jobs/job_file.hpp"
#include "jobs/job_spec.hpp"
#include "ops/log.hpp"
#include "ops/results.hpp"
#include "schedule/restart_rule.hpp"
#include "spool/journal.hpp"
#include "spool/journal_record.hpp"
#include "spool/spool.hpp"

namespace exportd {

// Jobs to hand to the exporter: one batch, with each job's recovered state.
struct PendingBatch {
  std::string id;
  std::vector<JobSpec> specs;
  std::vector<RecoveredJob> states;  // parallel to specs
};

// A dropped file claimed into active/, not yet read.
struct ClaimedDrop {
  std::string name;   // in incoming/
  std::string batch;  // its batch id: active/<batch>
};
// What reading it found: its text and its jobs, or why not.
struct DropContent {
  Result<std::string> content;
  Result<std::vector<JobSpec>> specs;
};

// A queue file as read (on any thread): its text, its jobs with their
// scenes files only named, and with each distinct one read (what a new batch needs).
struct QueueRead {
  std::string path;
  std::string content;                // the bytes read: the ones parsed, and the ones journaled
  Result<std::vector<JobSpec>> jobs;  // parsed from `content`, once
  std::optional<Failure> scenes;      // what its scenes files hold wrong (a new batch is refused for it)
};
QueueRead read_queue_file(const std::string& path, const JobDefaults& defaults);

// The durable side of the daemon: takes job files into batches, keeps the
// journal, writes results.jsonl, and after a crash rebuilds what was going
// on. Implements the exporter's JobLedger.
//
// Batches: a file dropped into incoming/ is one batch, filed into done/ when
// all its jobs have ended. A queue file is one batch per content: run again
// with the same content, its succeeded jobs are not exported again and its
// failed ones are retried; once all have succeeded it is closed, and the next
// run of the file is a new batch. `fresh` starts a new batch regardless.
class BatchStore final : public JobLedger {
 public:
  BatchStore(boost::asio::any_io_executor ex, Spool& spool, Logger& log);

  // Replays the journal (a torn last line is ignored), re-appends result lines
  // a crash kept out of results.jsonl, files away finished batches, compacts
  // the journal, and returns the batches with jobs still to run.
  std::vector<PendingBatch> recover(const JobDefaults& defaults);
  // What recover() found about the downtime and about how long exports took.
  const RestartFacts& restart_facts() const { return restart_facts_; }

  // incoming/NAME: claimed into active/ and journaled, or moved to rejected/
  // with NAME.error. Nothing when rejected or gone. The three steps below in one.
  std::optional<PendingBatch> take_drop_file(const std::string& name, const JobDefaults& defaults);
  // The steps of a drop's intake: the claim and the journal on the event
  // loop; the read (the YAML and each distinct scenes file it names) on
  // any thread, as it touches only the claimed file and what it names. A
  // crash between the claim and accept_drop leaves the file in active/
  // without a batch record: it is taken in again at the next start.
  std::optional<ClaimedDrop> claim_drop(const std::string& name);
  DropContent read_drop(const ClaimedDrop& drop, const JobDefaults& defaults) const;
  std::optional<PendingBatch> accept_drop(const ClaimedDrop& drop, DropContent read);

  // A queue file (see above): its jobs still to run, nothing, or a failure
  // when the file is invalid (its problems as FILE:LINE:COL lines).
  Result<std::optional<PendingBatch>> take_queue_file(const std::string& path, const JobDefaults& defaults, bool fresh);
  // The same in two steps: the read (read_queue_file) anywhere, this on the loop.
  Result<std::optional<PendingBatch>> accept_queue_file(QueueRead read, bool fresh);

  // JobLedger
  boost::asio::awaitable<void> submit_started(const std::string& batch, const std::string& job) override;
  boost::asio::awaitable<void> submitted(const std::string& batch, const std::string& job, const std::string& project,
                                         std::chrono::system_clock::time_point at) override;
  boost::asio::awaitable<void> downloading(const std::string& batch, const std::string& job,
                                           const DownloadRecord& record) override;
  boost::asio::awaitable<void> delivering(const std::string& batch, const std::string& job,
                                          const DeliveryRecord& record) override;
  boost::asio::awaitable<void> ended(const std::string& batch, const JobResult& result) override;
  boost::asio::awaitable<void> batch_ended(const std::string& batch) override;

  // Retention (SPEC §11): results.jsonl rotated past its size, and done/,
  // rejected/ and the rotated results kept within their limits (also
  // checked as batches are filed away, so a burst cannot outgrow them
  // between two hourly prunes). Before recover().
  void retain(const RetentionSettings& r) {
    retention_ = r;
    if (results_) results_->rotate_past(r.results_max_size, r.results_keep);
  }
  // Applies the age and count limits now; what it removed.
  Pruned prune(std::chrono::system_clock::time_point now);
  std::uint64_t results_rotations() const { return results_ ? results_->rotations() : 0; }
  // The results files this process rotated, oldest first (the run's results table reads them).
  std::vector<std::string> rotated_results() const {
    return results_ ? results_->rotated() : std::vector<std::string>{};
  }

  const std::string& last_error() const { return last_error_; }
  std::size_t open_batches() const { return open_.size(); }

 private:
  RestartFacts restart_facts_;
  struct OpenBatch {
    JournalRecord header;
    std::map<std::string, EndedJob> ended;  // for jobs that have ended: how, and what a create left
    std::uint32_t unfinished = 0;       // jobs handed to the exporter, not ended
    bool queue() const { return header.origin.kind == BatchOrigin::Kind::queue; }
  };

  // The batch's jobs from active/<batch>, or why not (changed since the
  // claim, unreadable).
  Result<std::vector<JobSpec>> load_snapshot(const JournalRecord& header, const JobDefaults& defaults,
                                             ScenesCheck scenes);
  // A batch that cannot be run from its file: a failed result for each job
  // the journal knows was started, the file to rejected/ with the reason.
  void set_aside(const RecoveredBatch& b, const std::string& why);
  JournalRecord batch_header(const std::string& id, const std::string& name, const BatchOrigin& origin,
                             const std::string& base_dir, const std::string& digest);
  void repair_results(const RecoveredBatch& b);
  void close(const std::string& batch);
  void maybe_compact();
  std::uint64_t results_size() const;
  void post_results_flush();

  boost::asio::any_io_executor ex_;
  Spool& spool_;
  Logger& log_;
  std::optional<Journal> journal_;
  std::optional<ResultsFile> results_;
  std::map<std::string, OpenBatch> open_;
  bool flush_posted_ = false;
  std::string last_error_;
  RetentionSettings retention_;
  std::uint32_t filed_since_prune_ = 0;  // batches filed away (or set aside) since the last prune
  // Journal bytes that trigger a rewrite: four times what the last rewrite
  // kept, at least 256 KiB. The journal stays within a small multiple of the
  // open batches' size, and a rewrite reads at most four times what it keeps.
  static constexpr std::uintmax_t compact_floor = 256 * 1024;
  std::uintmax_t compact_above_ = compact_floor;
};

}  // namespace exportd
