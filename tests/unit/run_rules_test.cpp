// The run-level rules and the reload plan as pure functions: a table per rule.

#include <functional>

#include <gtest/gtest.h>

#include "config/reload.hpp"
#include "engine/run_rules.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
const TimePoint t0 = TimePoint{} + 1000h;

ApiError err(Errc k, int status = 0) { return {k, status, "c", "m", {}}; }

RunRules rules(RunMode mode, std::uint32_t give_up = 3) { return RunRules({mode, Backoff(1s, 8s), 5, give_up}); }

TEST(RunRules, FiveApiFaultsInARowHoldEveryCallAndOneProbeGoes) {
  auto r = rules(RunMode::daemon);
  auto e = err(Errc::transport);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(r.on_call(&e, false, t0).held_now);
  const auto d = r.on_call(&e, false, t0);
  EXPECT_TRUE(d.held_now);
  EXPECT_TRUE(d.api_down);
  EXPECT_EQ(r.gate(t0).kind, RunRules::Gate::Kind::wait);
  EXPECT_EQ(r.gate(t0).until, t0 + 1s);
  EXPECT_EQ(r.gate(t0 + 1s).kind, RunRules::Gate::Kind::go);    // the probe
  EXPECT_EQ(r.gate(t0 + 1s).kind, RunRules::Gate::Kind::wait);  // nobody else
  const auto back = r.on_call(nullptr, false, t0 + 2s);
  EXPECT_TRUE(back.back_now);
  EXPECT_EQ(back.held_for, 2s);
  EXPECT_EQ(r.gate(t0 + 2s).kind, RunRules::Gate::Kind::go);
  EXPECT_FALSE(r.health(t0 + 2s).held);
}

// A sweep's list call that fails does not hold every call by itself: while
// sweeps run it may be the only call made, and a list that fails while the
// jobs' own reads would work must not stop the run. A job's faults do; and
// once calls are held, a failed probe counts whoever sent it.
TEST(RunRules, ASweepsFaultsAloneDoNotHoldTheCallsButAFailedProbeCounts) {
  auto r = rules(RunMode::batch);
  auto e = err(Errc::transport);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(r.on_call(&e, false, t0, false).held_now);
  EXPECT_EQ(r.gate(t0).kind, RunRules::Gate::Kind::go);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(r.on_call(&e, false, t0).held_now);
  EXPECT_TRUE(r.on_call(&e, false, t0).held_now) << "five of the jobs' own in a row";
  EXPECT_EQ(r.gate(t0 + 1s).kind, RunRules::Gate::Kind::go);  // a probe: the sweep's
  r.on_call(&e, false, t0 + 1s, false);
  EXPECT_EQ(r.failed_probes(), 2u) << "the sweep's failed probe counts";
  EXPECT_EQ(r.gate(t0 + 2s).kind, RunRules::Gate::Kind::wait);
}

TEST(RunRules, A429IsThrottlingNotAnOutage) {
  auto r = rules(RunMode::daemon);
  auto e = err(Errc::overloaded, 429);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(r.on_call(&e, false, t0).held_now);
  EXPECT_FALSE(r.held());
}

TEST(RunRules, ABatchGivesUpAfterTheConfiguredProbesWithAnUnreachableError) {
  auto r = rules(RunMode::batch, 3);
  auto e = err(Errc::transport);
  for (int i = 0; i < 5; ++i) r.on_call(&e, false, t0);
  std::optional<JobError> stop;
  for (int probe = 0; probe < 3 && !stop; ++probe) {
    const auto at = r.next_probe();
    ASSERT_EQ(r.gate(at).kind, RunRules::Gate::Kind::go);  // this caller is the probe
    stop = r.on_call(&e, false, at).stop;
  }
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->code, "unreachable");
  EXPECT_TRUE(r.stopping());
  EXPECT_EQ(r.gate(t0 + 1h).kind, RunRules::Gate::Kind::stopped);
}

TEST(RunRules, RefusedCredentialsStopABatchButHoldADaemon) {
  auto batch = rules(RunMode::batch);
  auto creds = err(Errc::credentials);
  EXPECT_TRUE(batch.stops_run(creds.kind));
  EXPECT_FALSE(batch.on_call(&creds, false, t0).held_now);
  auto daemon = rules(RunMode::daemon);
  EXPECT_FALSE(daemon.stops_run(creds.kind));
  const auto d = daemon.on_call(&creds, false, t0);
  EXPECT_TRUE(d.held_now);
  EXPECT_TRUE(d.api_down) << "not held against any job";
  EXPECT_NE(daemon.health(t0).why.find("refused the credentials"), std::string::npos);
}

TEST(RunRules, AnUnauthorizedCallIsReplayedOnceWithAFreshToken) {
  auto r = rules(RunMode::daemon);
  auto e = err(Errc::unauthorized, 401);
  EXPECT_EQ(r.on_call(&e, false, t0).next, RunRules::Decision::Next::renew_and_replay);
  EXPECT_EQ(r.on_call(&e, true, t0).next, RunRules::Decision::Next::deliver);
  auto other = err(Errc::rejected, 200);
  EXPECT_EQ(r.on_call(&other, false, t0).next, RunRules::Decision::Next::deliver);
}

TEST(RunRules, StopHoldsEveryCall) {
  auto r = rules(RunMode::daemon);
  r.stop();
  EXPECT_EQ(r.gate(t0).kind, RunRules::Gate::Kind::stopped);
  EXPECT_FALSE(r.fatal());
}

TEST(Reload, EachKeyIsLiveOrNeedsARestart) {
  struct Row {
    const char* key;
    bool live;
    std::function<void(Config&)> change;
  };
  const Row rows[] = {
      {"api.base_url", false, [](Config& c) { c.api.base_url = "https://other.example.com"; }},
      {"api.app_id", false, [](Config& c) { c.api.app_id = "other"; }},
      {"api.user_key_file", false, [](Config& c) { c.api.user_key_file = "/k2"; }},
      {"api.user_key_env", false, [](Config& c) { c.api.user_key_env = "K2"; }},
      {"api.user_key_credential", false, [](Config& c) { c.api.user_key_credential = "k2"; }},
      {"api.ca_file", false, [](Config& c) { c.api.ca_file = "/ca2.pem"; }},
      {"api.request_timeout", false, [](Config& c) { c.api.request_timeout = 5s; }},
      {"api.token_refresh_after", false, [](Config& c) { c.api.token_refresh_after = 1h; }},
      {"state_dir", false, [](Config& c) { c.state_dir = "/elsewhere"; }},
      {"queue_files", true, [](Config& c) { c.queue_files = {"/q.yaml"}; }},
      {"limits.max_active_jobs", true, [](Config& c) { c.limits.max_active_jobs = 7; }},
      {"limits.max_connections", true, [](Config& c) { c.limits.max_connections = 2; }},
      {"limits.requests_per_second", true, [](Config& c) { c.limits.requests_per_second = 3; }},
      {"limits.max_rows", true, [](Config& c) { c.defaults.max_rows = 9; }},
      {"polling.first_poll_after", true, [](Config& c) { c.polling.first_poll_after = 1s; }},
      {"polling.min_interval", true, [](Config& c) { c.polling.min_interval = 1s; }},
      {"polling.max_interval", true, [](Config& c) { c.polling.max_interval = 9s; }},
      {"polling.job_timeout", true, [](Config& c) { c.polling.job_timeout = 9h; }},
      {"polling.sweep_every", true, [](Config& c) { c.polling.sweep_every = 2s; }},
      {"polling.sweep_min_jobs", true, [](Config& c) { c.polling.sweep_min_jobs = 5; }},
      {"retry.max_attempts", true, [](Config& c) { c.retry.max_attempts = 2; }},
      {"retry.initial_backoff", true, [](Config& c) { c.retry.initial_backoff = 2s; }},
      {"retry.max_backoff", true, [](Config& c) { c.retry.max_backoff = 9min; }},
      {"defaults.resolution", true, [](Config& c) { c.defaults.resolution = "720"; }},
      {"defaults.workspace_id", true, [](Config& c) { c.defaults.workspace_id = "ws"; }},
      {"defaults.webhook_url", true, [](Config& c) { c.defaults.webhook_url = "https://h"; }},
      {"jobs.scenes_root", true, [](Config& c) { c.defaults.drop_scenes_root = "/srv/scenes"; }},
      {"report.path", true, [](Config& c) { c.report_path = "/srv/report.html"; }},
      {"webhook.listen", false, [](Config& c) { c.webhook.listen = "127.0.0.1:9"; }},
      {"webhook.public_url", false, [](Config& c) { c.webhook.public_url = "https://h.example.com"; }},
      {"webhook.safety_poll", true, [](Config& c) { c.webhook.safety_poll = 1min; }},
      {"metrics.listen", false, [](Config& c) { c.metrics.listen = "127.0.0.1:9464"; }},
      {"retention.results_max_size", true, [](Config& c) { c.retention.results_max_size = 1 << 20; }},
      {"retention.results_keep", true, [](Config& c) { c.retention.results_keep = 3; }},
      {"retention.done_days", true, [](Config& c) { c.retention.done_days = 3; }},
      {"retention.done_max_files", true, [](Config& c) { c.retention.done_max_files = 3; }},
      {"log.level", true, [](Config& c) { c.log.level = LogLevel::debug; }},
      {"log.format", true, [](Config& c) { c.log.format = LogFormat::json; }},
  };
  const Config running;
  for (const auto& row : rows) {
    Config fresh = running;
    row.change(fresh);
    const auto plan = plan_reload(running, fresh);
    const auto& where = row.live ? plan.live : plan.restart;
    ASSERT_EQ(where.size(), 1u) << row.key;
    EXPECT_EQ(where.front(), row.key);
    EXPECT_TRUE((row.live ? plan.restart : plan.live).empty()) << row.key;
    Config expected = row.live ? fresh : running;
    Config got = plan.next;
    // The plan runs on the new value of a live key and keeps the old one of the rest.
    EXPECT_EQ(plan_reload(expected, got).live.size() + plan_reload(expected, got).restart.size(), 0u) << row.key;
  }
  const auto nothing = plan_reload(running, running);
  EXPECT_TRUE(nothing.live.empty() && nothing.restart.empty());
}

}  // namespace
}  // namespace exportd
