#include "ops/metrics.hpp"

#include <cstdio>

namespace exportd {

std::string_view to_string(CallOutcome o) {
  switch (o) {
    case CallOutcome::ok:
      return "ok";
    case CallOutcome::refused:
      return "refused";
    case CallOutcome::throttled:
      return "throttled";
    case CallOutcome::client_error:
      return "client_error";
    case CallOutcome::server_error:
      return "server_error";
    case CallOutcome::transport_error:
      return "transport_error";
  }
  return "transport_error";
}

CallOutcome call_outcome(const ApiResult<HttpReply>& reply) {
  if (!reply) return CallOutcome::transport_error;
  const int s = reply->status;
  if (s >= 200 && s < 300) return CallOutcome::ok;
  if (s == 401 || s == 403) return CallOutcome::refused;
  if (s == 429) return CallOutcome::throttled;
  if (s >= 500) return CallOutcome::server_error;
  return CallOutcome::client_error;  // other 4xx, and the odd 1xx/3xx a broken proxy may send
}

std::string_view to_string(HookOutcome o) {
  switch (o) {
    case HookOutcome::accepted:
      return "accepted";
    case HookOutcome::ended:
      return "ended";
    case HookOutcome::unknown:
      return "unknown";
    case HookOutcome::too_large:
      return "too_large";
    case HookOutcome::bad_request:
      return "bad_request";
  }
  return "bad_request";
}

std::string_view to_string(RetryStage s) {
  switch (s) {
    case RetryStage::submit:
      return "submit";
    case RetryStage::poll:
      return "poll";
    case RetryStage::download:
      return "download";
  }
  return "poll";
}

void Metrics::completion_lag(Millis lag) {
  const double seconds = std::max<double>(0, static_cast<double>(lag.count()) / 1000.0);
  for (std::size_t i = 0; i < lag_buckets.size(); ++i) {
    if (seconds <= lag_buckets[i]) {
      ++lag_le_[i];
      break;
    }
  }
  ++lag_count_;
  lag_sum_ += seconds;
}

namespace {

// Appends metric families in the text format. Label values here come from
// fixed sets of our own, so they need no escaping beyond what a name has.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    char buf[32];
    // Integers (every counter) print exactly; the rest with enough digits.
    if (value == static_cast<double>(static_cast<std::int64_t>(value)) && value < 9e15 && value > -9e15)
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
    else
      std::snprintf(buf, sizeof buf, "%.17g", value);
    out_ += buf;
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + std::string(value) + "\"";
}

std::string bound(double le) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", le);
  return buf;
}

}  // namespace

std::string Metrics::render(const MetricsGauges& g) const {
  Exposition x;
  x.family("exportd_start_time_seconds", "gauge", "When this exportd process started (unix time).");
  x.sample("exportd_start_time_seconds", "", static_cast<double>(g.started_at));

  const auto& c = g.jobs;
  x.family("exportd_jobs", "gauge", "Jobs taken and not ended, by state.");
  const std::uint64_t open = c.total - c.done;
  const std::uint64_t exporting = c.in_flight >= c.downloading ? c.in_flight - c.downloading : 0;
  x.sample("exportd_jobs", label("state", "queued"), static_cast<double>(open >= c.in_flight ? open - c.in_flight : 0));
  x.sample("exportd_jobs", label("state", "exporting"), static_cast<double>(exporting));
  x.sample("exportd_jobs", label("state", "downloading"), static_cast<double>(c.downloading));
  x.family("exportd_jobs_accepted_total", "counter", "Jobs taken from job files since start.");
  x.sample("exportd_jobs_accepted_total", "", static_cast<double>(c.total));

  x.family("exportd_jobs_ended_total", "counter", "Jobs ended since start (one results.jsonl line each), by status.");
  for (auto o : {JobOutcome::succeeded, JobOutcome::failed, JobOutcome::timed_out})
    x.sample("exportd_jobs_ended_total", label("status", to_string(o)),
             static_cast<double>(ended_[static_cast<std::size_t>(o)]));

  x.family("exportd_api_requests_total", "counter",
           "API requests sent (token calls and retries included, downloads not), by call and outcome.");
  for (auto call : {ApiCall::token, ApiCall::export_project, ApiCall::create_project, ApiCall::progress,
                    ApiCall::get_project, ApiCall::list_projects})
    for (std::size_t o = 0; o < call_outcome_count; ++o)
      x.sample("exportd_api_requests_total",
               label("call", to_string(call)) + "," + label("outcome", to_string(static_cast<CallOutcome>(o))),
               static_cast<double>(requests_[static_cast<std::size_t>(call)][o]));

  x.family("exportd_api_budget_requests_per_second", "gauge",
           "limits.requests_per_second: the API call budget (0 = unlimited).");
  x.sample("exportd_api_budget_requests_per_second", "", g.budget);
  x.family("exportd_api_allowed_requests_per_second", "gauge",
           "The rate the budget allows now (below the configured one after 429s).");
  x.sample("exportd_api_allowed_requests_per_second", "", g.request_rate);

  x.family("exportd_token_renewals_total", "counter", "API tokens fetched since start.");
  x.sample("exportd_token_renewals_total", "", static_cast<double>(g.token_renewals));
  x.family("exportd_token_failures_total", "counter", "Token requests that brought no token.");
  x.sample("exportd_token_failures_total", "", static_cast<double>(g.token_failures));

  x.family("exportd_retries_total", "counter", "Calls and downloads tried again after a transient failure, by stage.");
  for (std::size_t s = 0; s < retry_stage_count; ++s)
    x.sample("exportd_retries_total", label("stage", to_string(static_cast<RetryStage>(s))),
             static_cast<double>(retries_[s]));

  x.family("exportd_breaker_open", "gauge",
           "1 while every API call is held (API unreachable or credentials refused), else 0.");
  x.sample("exportd_breaker_open", "", g.calls_held ? 1 : 0);

  x.family(
      "exportd_completion_lag_seconds", "histogram",
      "From the last sight of an export unfinished (a read below 100 %, or its hook) to the read that saw it done.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < lag_buckets.size(); ++i) {
    cumulative += lag_le_[i];
    x.sample("exportd_completion_lag_seconds_bucket", label("le", bound(lag_buckets[i])),
             static_cast<double>(cumulative));
  }
  x.sample("exportd_completion_lag_seconds_bucket", label("le", "+Inf"), static_cast<double>(lag_count_));
  x.sample("exportd_completion_lag_seconds_sum", "", lag_sum_);
  x.sample("exportd_completion_lag_seconds_count", "", static_cast<double>(lag_count_));

  x.family("exportd_webhook_calls_total", "counter", "Calls to the webhook receiver, by what was done with them.");
  for (std::size_t o = 0; o < hook_outcome_count; ++o)
    x.sample("exportd_webhook_calls_total", label("outcome", to_string(static_cast<HookOutcome>(o))),
             static_cast<double>(hooks_[o]));

  x.family("exportd_download_bytes_total", "counter", "Video bytes written to download.dir, every try.");
  x.sample("exportd_download_bytes_total", "", static_cast<double>(download_bytes_));
  x.family("exportd_downloads_completed_total", "counter", "Videos renamed into place whole.");
  x.sample("exportd_downloads_completed_total", "", static_cast<double>(downloads_complete_));
  x.family("exportd_download_failures_total", "counter", "Jobs ended failed with download_failed.");
  x.sample("exportd_download_failures_total", "", static_cast<double>(download_failures_));
  x.family("exportd_downloads_paused", "gauge", "Downloads waiting for space in download.dir.");
  x.sample("exportd_downloads_paused", "", static_cast<double>(c.downloads_paused));

  x.family("exportd_deliveries_total", "counter", "Runs of the delivery command (deliver.command), by how they ended.");
  for (const auto& [i, outcome] : {std::pair{0, "delivered"}, std::pair{1, "failed"}, std::pair{2, "timed_out"}})
    x.sample("exportd_deliveries_total", label("outcome", outcome), static_cast<double>(deliveries_[i]));
  x.family("exportd_delivery_seconds_total", "counter", "Seconds the delivery commands ran, all runs together.");
  x.sample("exportd_delivery_seconds_total", "", delivery_seconds_);

  x.family("exportd_results_rotations_total", "counter",
           "Times results.jsonl was rotated (retention.results_max_size).");
  x.sample("exportd_results_rotations_total", "", static_cast<double>(g.results_rotations));
  return x.take();
}

}  // namespace exportd
