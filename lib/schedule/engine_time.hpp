#pragma once

// The engine's time, injected: what "now" is and how to wait for a moment.
// The daemon uses real_time(); unit tests pass a manual clock they advance,
// so a whole run (retries, breaker gaps, polls, token renewals) plays out in
// microseconds without a sleep.

#include <chrono>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "schedule/clock.hpp"

namespace exportd {

// One wake-up time that can be moved and cancelled, like an asio timer.
// wait() returns when the time has come, or early when the alarm is moved
// or cancelled: callers look at their condition again after each wake.
class Alarm {
 public:
  virtual ~Alarm() = default;
  virtual void expires_at(TimePoint t) = 0;  // wakes the current waiters
  virtual TimePoint expiry() const = 0;
  virtual void cancel() = 0;  // wakes the current waiters
  virtual boost::asio::awaitable<void> wait() = 0;
};

class EngineTime {
 public:
  virtual ~EngineTime() = default;
  virtual TimePoint now() const = 0;                                 // for decisions
  virtual std::chrono::system_clock::time_point wall_now() const = 0;  // for records
  virtual std::unique_ptr<Alarm> alarm(boost::asio::any_io_executor ex) = 0;  // expiry: never
};

// steady_clock, system_clock and asio timers.
EngineTime& real_time();

// Steady times as wall-clock times and back (the journal keeps wall times),
// from one moment read on both clocks.
class WallMapping {
 public:
  explicit WallMapping(const EngineTime& time) : steady_(time.now()), wall_(time.wall_now()) {}
  std::chrono::system_clock::time_point wall(TimePoint t) const {
    return wall_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - steady_);
  }
  TimePoint steady(std::chrono::system_clock::time_point t) const {
    return steady_ + std::chrono::duration_cast<Clock::duration>(t - wall_);
  }

 private:
  TimePoint steady_;
  std::chrono::system_clock::time_point wall_;
};

}  // namespace exportd
