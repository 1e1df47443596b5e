#pragma once

#include <cstdint>

#include "config/duration.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// The shared request budget (limits.requests_per_second) as a strict pacer
// (GCRA with a burst of one): each call reserves the next free slot, so no
// second ever holds more than `rate` requests and callers queue in order.
class RequestBudget {
 public:
  explicit RequestBudget(std::uint32_t per_second) : per_second_(per_second) {}

  // Reserves a slot; the request may go at the returned time (>= now).
  TimePoint reserve(TimePoint now);
  bool unlimited() const { return per_second_ == 0; }

 private:
  std::uint32_t per_second_;
  TimePoint next_free_{};
};

}  // namespace exportd
