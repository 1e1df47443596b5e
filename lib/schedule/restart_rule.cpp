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
  if (!facts.seen) return true;
  // A margin of a factor of two each way: a handful of exports is a thin
  // sample, and a job misjudged here waits up to safety_poll.
  const auto earliest = submitted_at + facts.seen->shortest / 2;
  const auto latest = submitted_at + facts.seen->longest * 2;
  return earliest <= now && latest >= facts.last_alive;
}

}  // namespace exportd
