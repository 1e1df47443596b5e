#include "schedule/restart_rule.hpp"

#include <algorithm>

namespace exportd {

void RestartFacts::saw_export(std::chrono::milliseconds took) {
  if (took.count() < 0) return;
  if (!seen) {
    seen = Span{took, took};
    return;
  }
  seen->shortest = std::min(seen->shortest, took);
  seen->longest = std::max(seen->longest, took);
}

bool read_after_restart(RestartFacts::SysTime submitted_at, RestartFacts::SysTime now, const RestartFacts& facts) {
  if (!facts.seen) return false;
  // A margin of a factor of two each way: a handful of exports is a thin
  // sample, and a job misjudged here waits up to safety_poll.
  const auto earliest = submitted_at + facts.seen->shortest / 2;
  const auto latest = submitted_at + facts.seen->longest * 2;
  return earliest <= now && latest >= facts.last_alive;
}

RestartFacts::SysTime first_read_after_restart(RestartFacts::SysTime submitted_at, RestartFacts::SysTime now,
                                               const RestartFacts& facts, std::chrono::milliseconds safety_poll) {
  if (read_after_restart(submitted_at, now, facts) || safety_poll.count() <= 0) return now;
  // The safety read after the last one the daemon can have made while up.
  const auto up_for = std::max(RestartFacts::SysTime::duration::zero(), facts.last_alive - submitted_at);
  const auto reads_made = up_for / safety_poll;
  const auto next = submitted_at + (reads_made + 1) * safety_poll;
  return std::max(next, now);
}

}  // namespace exportd
