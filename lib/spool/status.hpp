#pragma once

#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "config/settings.hpp"
#include "error/error.hpp"
#include "ops/batch_summary.hpp"
#include "spool/spool.hpp"

namespace exportd {

// Writes state_dir/status.json (temp file + rename, so readers never see half
// of it). Advisory: not fsynced, rewritten every few seconds by the daemon.
// Advisory (the journal is what matters): a failure says why it could not be written.
Result<void> write_status_file(const std::string& path, const boost::json::object& status);

// What `exportd status` shows: files per spool folder, the jobs of the open
// batches per state (from the journal), the oldest job in flight, and the
// daemon's own status.json (pid, counts, last error) when there is one.
// Reads only; safe while the daemon runs.
// With the `recent_count` batches that ended last, from the results files
// (the morning read: what happened last night).
boost::json::object spool_report(const std::string& state_dir, const JobDefaults& defaults,
                                 std::size_t recent_count = 10);
std::string format_spool_report(const boost::json::object& report);

// The `n` batches that ended last, from results.jsonl and the newest rotated files.
std::vector<BatchSummary> recent_batches(const Spool& spool, std::size_t n);
std::string format_recent_batches(const boost::json::array& batches);

}  // namespace exportd
