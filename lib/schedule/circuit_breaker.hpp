#pragma once

#include <cstdint>
#include <string>

#include "time/duration.hpp"
#include "schedule/backoff.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// One breaker for every call to the API. While the API answers, calls go.
// After `trip_after` failures in a row (no connection, 5xx, garbage) it
// opens: calls wait, and one probe at a time tests the API, the gap between
// probes growing like the retry backoff. The first success closes it and
// everybody goes on. So a dead API costs one request per backoff step, not
// one per job per step.
class CircuitBreaker {
 public:
  CircuitBreaker(Backoff backoff, std::uint32_t trip_after) : backoff_(backoff), trip_after_(trip_after) {}

  enum class Verdict : std::uint8_t {
    go,     // closed: send
    probe,  // open, and this caller is the one probe: send and report back
    wait,   // open: wait until `until` (or until it closes)
  };
  struct Admission {
    Verdict verdict;
    TimePoint until{};
  };

  Admission admit(TimePoint now);
  void on_success();
  void on_failure(TimePoint now);
  // Opens at once (e.g. the daemon when the credentials are refused), as if a probe had failed.
  void hold(TimePoint now);

  bool is_open() const { return open_; }
  void set_backoff(Backoff b) { backoff_ = b; }
  std::uint32_t failed_probes() const { return failed_probes_; }
  TimePoint open_since() const { return open_since_; }
  TimePoint next_probe() const { return retry_at_; }

 private:
  void reopen(TimePoint now);

  Backoff backoff_;
  std::uint32_t trip_after_;
  std::uint32_t consecutive_ = 0;
  bool open_ = false;
  bool probing_ = false;
  std::uint32_t failed_probes_ = 0;
  TimePoint open_since_{};
  TimePoint retry_at_{};
};

}  // namespace exportd
