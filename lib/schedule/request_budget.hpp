#pragma once

#include <cstdint>

#include "time/duration.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// The shared request budget (limits.requests_per_second) as a strict pacer
// (GCRA with a burst of one): each call reserves the next free slot, so no
// second ever holds more than the rate and callers queue in order.
//
// When the API throttles for real — at least 3 replies and half of them
// 429 within one second — the effective rate is halved (at most once every
// two seconds, never below one call a second); it then climbs back linearly
// to the configured rate over `recover_over`. A stray 429 among many good
// replies only delays its own call (Retry-After). With no configured rate
// (0 = unlimited) the halving starts from the rate actually seen, and the
// limit is lifted once recovered.
class RequestBudget {
 public:
  explicit RequestBudget(std::uint32_t per_second, Millis recover_over = Millis(30'000))
      : per_second_(per_second), recover_over_(recover_over) {}

  // Reserves a slot; the request may go at the returned time (>= now).
  TimePoint reserve(TimePoint now);
  // Every reply: was it a 429?
  void on_reply(TimePoint now, bool throttled);
  // A new configured rate (SIGHUP): it holds from the next reservation on;
  // a cut for throttling is forgotten.
  void set_rate(std::uint32_t per_second) {
    per_second_ = per_second;
    reduced_ = 0;
  }
  // Calls per second allowed now; 0 = unlimited.
  double rate(TimePoint now) const;

 private:
  void count(TimePoint now);

  std::uint32_t per_second_;
  Millis recover_over_;
  TimePoint next_free_{};
  double reduced_ = 0;  // rate right after the last cut; 0 = not cut
  double ceiling_ = 0;  // the rate it recovers to
  TimePoint reduced_at_{};
  TimePoint window_start_{};
  std::uint32_t window_count_ = 0;
  std::uint32_t last_window_count_ = 0;
  TimePoint reply_window_start_{};
  std::uint32_t replies_ = 0;
  std::uint32_t throttled_ = 0;
};

}  // namespace exportd
