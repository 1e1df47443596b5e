#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "api/wire.hpp"
#include "config/settings.hpp"

namespace exportd {

// A source of uniform numbers in [0, 1), injected so tests can pin jitter.
using UnitRandom = std::function<double()>;
UnitRandom default_unit_random();

// Capped exponential backoff with full jitter: the n-th retry waits a uniform
// time in [0, min(max, initial * 2^(n-1))] (AWS "full jitter"), which spreads
// a crowd of failed callers instead of making them retry in lockstep.
class Backoff {
 public:
  Backoff(Millis initial, Millis max) : initial_(initial), max_(max) {}

  // The upper bound for retry number `attempt` (1-based).
  Millis ceiling(std::uint32_t attempt) const;
  Millis delay(std::uint32_t attempt, double unit) const;

 private:
  Millis initial_;
  Millis max_;
};

// The longest Retry-After that is honoured as asked; a longer one waits this long.
inline constexpr Millis retry_after_limit{3'600'000};

// Whether and when a failed call is tried again.
class RetryPolicy {
 public:
  explicit RetryPolicy(const RetrySettings& s) : backoff_(s.initial_backoff, s.max_backoff), max_attempts_(s.max_attempts) {}

  // `attempt` counts the failed tries of this call so far (1 after the first).
  // Nothing means: give up, the failure is final.
  std::optional<Millis> retry_after(const ApiError& error, std::uint32_t attempt, double unit) const;
  // The same for a failure of a kind, with the server's Retry-After if it sent one.
  std::optional<Millis> retry_after(Errc kind, std::optional<Millis> server_says, std::uint32_t attempt,
                                    double unit) const;

  std::uint32_t max_attempts() const { return max_attempts_; }
  const Backoff& backoff() const { return backoff_; }

 private:
  Backoff backoff_;
  std::uint32_t max_attempts_;
};

}  // namespace exportd
