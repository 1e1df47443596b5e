#pragma once

#include "config/settings.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// When to ask for a job's progress next.
//
// After the first poll the interval aims at the predicted finish: the
// progress so far divided by the time since submit gives a rate, and the
// remaining percent at that rate is the wait, clamped to
// [min_interval, max_interval]. With no progress yet the wait doubles with the
// job's age (a job at 0 % after 10 s is looked at again after ~10 s more).
// The result never passes the job's deadline, so a timeout is noticed on time.
class PollPolicy {
 public:
  explicit PollPolicy(const PollingSettings& s) : s_(s) {}

  TimePoint first_poll(TimePoint submitted_at) const { return submitted_at + s_.first_poll_after; }
  TimePoint next_poll(TimePoint submitted_at, double progress, TimePoint now) const;
  TimePoint deadline(TimePoint submitted_at) const { return submitted_at + s_.job_timeout; }

 private:
  PollingSettings s_;
};

}  // namespace exportd
