#include "schedule/request_budget.hpp"

#include <algorithm>

namespace exportd {

void RequestBudget::count(TimePoint now) {
  if (now - window_start_ >= std::chrono::seconds(1)) {
    last_window_count_ = now - window_start_ < std::chrono::seconds(2) ? window_count_ : 0;
    window_start_ = now;
    window_count_ = 0;
  }
  ++window_count_;
}

double RequestBudget::rate(TimePoint now) const {
  if (reduced_ <= 0) return per_second_;
  const double elapsed = std::chrono::duration<double>(now - reduced_at_).count();
  const double span = std::chrono::duration<double>(recover_over_).count();
  if (elapsed >= span) return per_second_;  // recovered (for 0: unlimited again)
  return reduced_ + (ceiling_ - reduced_) * (elapsed / span);
}

TimePoint RequestBudget::reserve(TimePoint now) {
  count(now);
  const double r = rate(now);
  if (r <= 0) return now;
  const auto spacing = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / r));
  const TimePoint slot = std::max(now, next_free_);
  next_free_ = slot + spacing;
  return slot;
}

void RequestBudget::on_reply(TimePoint now, bool throttled) {
  if (now - reply_window_start_ >= std::chrono::seconds(1)) {
    reply_window_start_ = now;
    replies_ = 0;
    throttled_ = 0;
  }
  ++replies_;
  throttled_ += throttled;
  // Throttling for real answers most calls 429: at least three, and half of
  // a second's replies. (A fifth let stray 429s, 5 % of calls, cut the rate
  // again and again: each cut left fewer replies a second, where three 429s
  // are a fifth sooner, until a batch crawled at ~11 calls a second.)
  if (!throttled || throttled_ < 3 || throttled_ * 2 < replies_) return;
  if (reduced_ > 0 && now - reduced_at_ < std::chrono::seconds(2)) return;  // one cut per episode
  double current = rate(now);
  if (current <= 0) current = std::max<double>(last_window_count_, window_count_);  // unlimited: what was seen
  if (reduced_ <= 0) ceiling_ = per_second_ > 0 ? per_second_ : std::max(1.0, current);
  reduced_ = std::max(1.0, current / 2);
  reduced_at_ = now;
}

}  // namespace exportd
