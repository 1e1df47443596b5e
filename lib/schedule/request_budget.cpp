#include "schedule/request_budget.hpp"

#include <algorithm>

namespace exportd {

TimePoint RequestBudget::reserve(TimePoint now) {
  if (per_second_ == 0) return now;
  const auto spacing = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / per_second_;
  const TimePoint slot = std::max(now, next_free_);
  next_free_ = slot + spacing;
  return slot;
}

}  // namespace exportd
