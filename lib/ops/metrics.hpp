#pragma once

// What /metrics serves (SPEC §11): run-wide counters and a lag histogram,
// kept by the parts that see the events, rendered in the Prometheus text
// exposition format (version 0.0.4). Written and read on the event loop
// only. No per-job labels: every label takes a value from a fixed set, so the
// number of series is known before the first scrape, and every series is
// there (at 0) from the start, so a dashboard never queries a missing one.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/wire.hpp"
#include "ops/progress_line.hpp"
#include "ops/results.hpp"
#include "time/duration.hpp"

namespace exportd {

// How one API request went, as far as the transport can tell.
enum class CallOutcome : std::uint8_t {
  ok,               // 2xx (the envelope may still say success:false)
  refused,          // 401/403: the token (or the credentials) refused
  throttled,        // 429
  client_error,     // another 4xx
  server_error,     // 5xx
  transport_error,  // no HTTP reply: connect, reset, timeout, TLS
};
inline constexpr std::size_t call_outcome_count = 6;
std::string_view to_string(CallOutcome o);
CallOutcome call_outcome(const ApiResult<HttpReply>& reply);

// What the webhook receiver did with one call.
enum class HookOutcome : std::uint8_t {
  accepted,     // a job of ours: its progress is read
  ended,        // a job that has ended: nothing done
  unknown,      // no job of ours: 404
  too_large,    // body over the limit: 413
  bad_request,  // another method, or not a hook path
};
inline constexpr std::size_t hook_outcome_count = 5;
std::string_view to_string(HookOutcome o);

// Where a job was when one of its calls or downloads is tried again.
enum class RetryStage : std::uint8_t {
  submit,    // the export or create request (or the probe of an in-doubt one)
  poll,      // a progress read
  download,  // a try of the video download (a full disk included)
};
inline constexpr std::size_t retry_stage_count = 3;
std::string_view to_string(RetryStage s);

// What is read at scrape time rather than counted.
struct MetricsGauges {
  BatchCounts jobs;
  std::uint64_t token_renewals = 0;  // tokens fetched since start
  std::uint64_t token_failures = 0;  // token requests that brought none
  bool calls_held = false;           // the breaker: every API call is held (API down, credentials refused)
  std::uint32_t budget = 0;          // limits.requests_per_second (0 = unlimited)
  double request_rate = 0;           // what the budget allows now (lowered after 429s)
  std::uint64_t results_rotations = 0;
  std::int64_t started_at = 0;  // unix seconds
};

// The one path the metrics listener serves.
inline constexpr std::string_view metrics_path = "/metrics";

class Metrics {
 public:
  // Upper bounds of the completion lag buckets, seconds.
  static constexpr std::array<double, 12> lag_buckets{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

  void api_request(ApiCall call, CallOutcome outcome) {
    ++requests_[static_cast<std::size_t>(call)][static_cast<std::size_t>(outcome)];
  }
  void retry(RetryStage stage) { ++retries_[static_cast<std::size_t>(stage)]; }
  void hook(HookOutcome outcome) { ++hooks_[static_cast<std::size_t>(outcome)]; }
  // A result line written to results.jsonl.
  void ended(JobOutcome outcome, bool download_failed) {
    ++ended_[static_cast<std::size_t>(outcome)];
    download_failures_ += download_failed;
  }
  void downloaded(std::uint64_t bytes) { download_bytes_ += bytes; }
  void download_complete() { ++downloads_complete_; }
  // One run of a delivery command (SPEC §13): "delivered", "failed" or "timed_out", and how long it took.
  void delivery(std::string_view outcome, double seconds) {
    ++deliveries_[outcome == "delivered" ? 0 : outcome == "timed_out" ? 2 : 1];
    delivery_seconds_ += seconds;
  }
  // From the latest moment the job was known unfinished (a read below 100 %),
  // or from its hook, to the read that saw it done.
  void completion_lag(Millis lag);

  std::uint64_t requests(ApiCall call, CallOutcome outcome) const {
    return requests_[static_cast<std::size_t>(call)][static_cast<std::size_t>(outcome)];
  }
  std::uint64_t lag_count() const { return lag_count_; }

  // The whole exposition, "# HELP" and "# TYPE" lines included.
  std::string render(const MetricsGauges& g) const;

 private:
  static constexpr std::size_t call_count = 6;     // ApiCall values
  static constexpr std::size_t outcome_count = 3;  // JobOutcome values
  std::array<std::array<std::uint64_t, call_outcome_count>, call_count> requests_{};
  std::array<std::uint64_t, retry_stage_count> retries_{};
  std::array<std::uint64_t, hook_outcome_count> hooks_{};
  std::array<std::uint64_t, outcome_count> ended_{};
  std::uint64_t download_failures_ = 0;
  std::uint64_t download_bytes_ = 0;
  std::uint64_t downloads_complete_ = 0;
  std::array<std::uint64_t, 3> deliveries_{};  // delivered, failed, timed_out
  double delivery_seconds_ = 0;
  std::array<std::uint64_t, lag_buckets.size()> lag_le_{};  // not cumulative; summed when rendered
  std::uint64_t lag_count_ = 0;
  double lag_sum_ = 0;
};

}  // namespace exportd
