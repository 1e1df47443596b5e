#pragma once

// How a job the journal held comes back after a restart (SPEC §5, §9, §10),
// as a pure function of what the journal recorded: submitted again, asked
// about (a submit in doubt), polled, its download resumed, or left waiting
// for its hook.

#include <chrono>
#include <optional>

#include "engine/ledger.hpp"
#include "jobs/export_job.hpp"
#include "schedule/restart_rule.hpp"

namespace exportd {

struct Comeback {
  // Its log line: accepted (fresh), recovered_in_doubt, recovered_submitted,
  // recovered_downloading, recovered_delivering or recovered_awaiting_hook.
  const char* how = "accepted";
  std::optional<JobState> state;  // nothing: fresh, submitted like any new job
  // A hooked job whose hook cannot have come while the daemon was down: it
  // keeps waiting for it, read first at this time.
  std::optional<RestartFacts::SysTime> first_read;
};

// `downloads`: downloads are on; `hooked`: the job is sent our receiver's
// URL; `restart`: what the journal says of the downtime (none: not a restart).
Comeback comeback(const RecoveredJob& r, bool downloads, bool hooked, const std::optional<RestartFacts>& restart,
                  RestartFacts::SysTime now, std::chrono::milliseconds safety_poll);

}  // namespace exportd
