#include "schedule/poll_policy.hpp"

#include <algorithm>

namespace exportd {

TimePoint PollPolicy::next_poll(TimePoint submitted_at, double progress, TimePoint now) const {
  const auto elapsed = std::chrono::duration_cast<Millis>(now - submitted_at);
  Millis wait;
  if (progress <= 0.0 || elapsed.count() <= 0) {
    wait = elapsed;
  } else {
    const double remaining_pct = std::max(0.0, 100.0 - progress);
    wait = Millis(static_cast<Millis::rep>(static_cast<double>(elapsed.count()) * remaining_pct / progress));
  }
  wait = std::clamp(wait, s_.min_interval, s_.max_interval);
  return std::min(now + wait, deadline(submitted_at));
}

}  // namespace exportd
