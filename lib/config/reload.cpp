#include "config/reload.hpp"

#include <functional>

namespace exportd {

namespace {

// One key: how to compare it and how to keep the running value.
struct Key {
  const char* name;
  bool live;
  std::function<bool(const Config&, const Config&)> same;
  std::function<void(Config& next, const Config& running)> keep;
};

template <class F>
Key key(const char* name, bool live, F field) {
  return {name, live, [field](const Config& a, const Config& b) { return field(a) == field(b); },
          [field](Config& next, const Config& running) { field(next) = field(running); }};
}

#define EXPORTD_FIELD(expr) [](auto& c) -> auto& { return c.expr; }

const std::vector<Key>& keys() {
  static const std::vector<Key> all = {
      // The connection and who we are: the pool, TLS context and token belong to them.
      key("api.base_url", false, EXPORTD_FIELD(api.base_url)),
      key("api.app_id", false, EXPORTD_FIELD(api.app_id)),
      key("api.user_key_file", false, EXPORTD_FIELD(api.user_key_file)),
      key("api.user_key_env", false, EXPORTD_FIELD(api.user_key_env)),
      key("api.user_key_credential", false, EXPORTD_FIELD(api.user_key_credential)),
      key("api.ca_file", false, EXPORTD_FIELD(api.ca_file)),
      key("api.request_timeout", false, EXPORTD_FIELD(api.request_timeout)),
      key("api.token_refresh_after", false, EXPORTD_FIELD(api.token_refresh_after)),
      // The spool is locked and open.
      key("state_dir", false, EXPORTD_FIELD(state_dir)),
      key("queue_files", true, EXPORTD_FIELD(queue_files)),
      key("limits.max_active_jobs", true, EXPORTD_FIELD(limits.max_active_jobs)),
      key("limits.max_connections", true, EXPORTD_FIELD(limits.max_connections)),
      key("limits.requests_per_second", true, EXPORTD_FIELD(limits.requests_per_second)),
      key("limits.max_rows", true, EXPORTD_FIELD(defaults.max_rows)),
      key("polling.first_poll_after", true, EXPORTD_FIELD(polling.first_poll_after)),
      key("polling.min_interval", true, EXPORTD_FIELD(polling.min_interval)),
      key("polling.max_interval", true, EXPORTD_FIELD(polling.max_interval)),
      key("polling.job_timeout", true, EXPORTD_FIELD(polling.job_timeout)),
      key("polling.sweep_every", true, EXPORTD_FIELD(polling.sweep_every)),
      key("polling.sweep_min_jobs", true, EXPORTD_FIELD(polling.sweep_min_jobs)),
      key("retry.max_attempts", true, EXPORTD_FIELD(retry.max_attempts)),
      key("retry.initial_backoff", true, EXPORTD_FIELD(retry.initial_backoff)),
      key("retry.max_backoff", true, EXPORTD_FIELD(retry.max_backoff)),
      key("defaults.resolution", true, EXPORTD_FIELD(defaults.resolution)),
      key("defaults.workspace_id", true, EXPORTD_FIELD(defaults.workspace_id)),
      key("defaults.webhook_url", true, EXPORTD_FIELD(defaults.webhook_url)),
      key("jobs.scenes_root", true, EXPORTD_FIELD(defaults.drop_scenes_root)),
      key("report.path", true, EXPORTD_FIELD(report_path)),
      // Deliveries under way keep the command they started with.
      key("deliver.command", false, EXPORTD_FIELD(deliver.command)),
      key("deliver.max_concurrent", false, EXPORTD_FIELD(deliver.max_concurrent)),
      key("deliver.timeout", false, EXPORTD_FIELD(deliver.timeout)),
      key("deliver.env", false, EXPORTD_FIELD(deliver.env)),
      // The receiver is bound and every hooked job's URL is already with the API.
      key("webhook.listen", false, EXPORTD_FIELD(webhook.listen)),
      key("webhook.public_url", false, EXPORTD_FIELD(webhook.public_url)),
      key("webhook.safety_poll", true, EXPORTD_FIELD(webhook.safety_poll)),
      // Downloads under way are named and placed by these (a .part file resumes where it is).
      key("download.dir", false, EXPORTD_FIELD(download.dir)),
      key("download.name", false, EXPORTD_FIELD(download.name)),
      key("download.max_concurrent", true, EXPORTD_FIELD(download.max_concurrent)),
      // The download threads were given it at start.
      key("download.max_bytes", false, EXPORTD_FIELD(download.max_bytes)),
      // The listener is bound.
      key("metrics.listen", false, EXPORTD_FIELD(metrics.listen)),
      key("retention.results_max_size", true, EXPORTD_FIELD(retention.results_max_size)),
      key("retention.results_keep", true, EXPORTD_FIELD(retention.results_keep)),
      key("retention.done_days", true, EXPORTD_FIELD(retention.done_days)),
      key("retention.done_max_files", true, EXPORTD_FIELD(retention.done_max_files)),
      key("log.level", true, EXPORTD_FIELD(log.level)),
      key("log.format", true, EXPORTD_FIELD(log.format)),
  };
  return all;
}

#undef EXPORTD_FIELD

}  // namespace

ReloadPlan plan_reload(const Config& running, const Config& fresh) {
  ReloadPlan plan{fresh, {}, {}};
  for (const auto& k : keys()) {
    if (k.same(running, fresh)) continue;
    if (k.live) {
      plan.live.emplace_back(k.name);
    } else {
      plan.restart.emplace_back(k.name);
      k.keep(plan.next, running);
    }
  }
  plan.next.api.endpoint = running.api.endpoint;  // derived from base_url, which needs a restart
  plan.next.defaults.download_name = plan.next.download.enabled() ? plan.next.download.name : "";  // derived too
  plan.next.path = fresh.path;
  return plan;
}

}  // namespace exportd
