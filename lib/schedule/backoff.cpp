#include "schedule/backoff.hpp"

#include <algorithm>
#include <memory>
#include <random>

namespace exportd {

UnitRandom default_unit_random() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

Millis Backoff::ceiling(std::uint32_t attempt) const {
  if (attempt == 0) return Millis(0);
  Millis d = initial_;
  for (std::uint32_t i = 1; i < attempt && d < max_; ++i) d *= 2;
  return std::min(d, max_);
}

Millis Backoff::delay(std::uint32_t attempt, double unit) const {
  unit = std::clamp(unit, 0.0, 1.0);
  return Millis(static_cast<Millis::rep>(static_cast<double>(ceiling(attempt).count()) * unit));
}

std::optional<Millis> RetryPolicy::retry_after(const ApiError& error, std::uint32_t attempt, double unit) const {
  return retry_after(error.kind, error.retry_after, attempt, unit);
}

std::optional<Millis> RetryPolicy::retry_after(Errc kind, std::optional<Millis> server_says, std::uint32_t attempt,
                                               double unit) const {
  if (!is_transient(kind)) return std::nullopt;
  if (attempt >= max_attempts_) return std::nullopt;
  Millis wait = backoff_.delay(attempt, unit);
  // The server knows best when it can take us again; never come back sooner.
  // Honoured in full up to retry_after_limit, even past max_backoff.
  if (server_says) wait = std::max(wait, std::min(*server_says, retry_after_limit));
  return wait;
}

}  // namespace exportd
