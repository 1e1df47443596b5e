// exportd against a hostile simulator: faults, a rate limit, an outage,
// refused credentials in the daemon.

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json/parse.hpp>

#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;
using testing::run_process;
using testing::Workspace;

std::string config_tail(const std::string& limits, const std::string& extra = "") {
  return "queue_files: [jobs.yaml]\nlimits:\n" + limits +
         "polling:\n  first_poll_after: 1s\n  min_interval: 500ms\n  max_interval: 5s\n"
         "retry:\n  initial_backoff: 200ms\n  max_backoff: 4s\n" + extra;
}

struct Run {
  testing::ProcessResult process;
  sim::Stats stats;
  std::size_t succeeded = 0;
  std::string not_succeeded;  // the result lines of the jobs that did not succeed
};

Run batch(const sim::Knobs& k, int jobs, const std::string& tail, const std::string& name) {
  sim::Simulator sim(k);
  Workspace ws(name);
  ws.write_config(sim.port(), false, "demo-key", tail);
  ws.write_export_jobs("jobs.yaml", jobs);
  Run r;
  r.process = run_process({testing::exportd_binary(), "run", "-c", ws.path("config.yaml"), "--once"}, 180s);
  r.stats = sim.stats();
  for (const auto& j : ws.results()) {
    if (j.at("status").as_string() == "succeeded") ++r.succeeded;
    else r.not_succeeded += boost::json::serialize(j) + "\n";
  }
  return r;
}

TEST(Resilience, FaultSoakAllSucceedNoDuplicatesAndFewExtraRequests) {
  // Exports outlast any probe's retries (max_backoff 1 s here): a probe that
  // found an export already at 100 % could not tell it from an earlier one
  // and would send it again (README, "The remaining windows"); that window is
  // not what this soak measures.
  sim::Knobs calm;
  calm.export_min = 6000ms;
  calm.export_max = 8000ms;
  calm.token_lifetime = 2000ms;
  sim::Knobs hostile = calm;
  hostile.rate_5xx = 0.10;
  hostile.rate_429 = 0.05;
  hostile.retry_after_date_share = 0.5;  // Retry-After as seconds and as an HTTP date
  hostile.rate_drop = 0.015;             // dropped before the API saw the call ...
  hostile.rate_drop_after = 0.015;       // ... and after it took effect: the reply is lost
  hostile.rate_html = 0.02;
  const auto tail = "queue_files: [jobs.yaml]\nlimits:\n  requests_per_second: 0\n"
                    "polling:\n  first_poll_after: 1s\n  min_interval: 500ms\n  max_interval: 5s\n"
                    "retry:\n  initial_backoff: 200ms\n  max_backoff: 1s\n";
  const auto baseline = batch(calm, 300, tail, "soak-calm");
  const auto soak = batch(hostile, 300, tail, "soak-hostile");
  ASSERT_EQ(baseline.process.exit_code, 0) << baseline.process.err.substr(0, 2000);
  ASSERT_EQ(soak.process.exit_code, 0) << soak.not_succeeded
                                        << soak.process.err.substr(soak.process.err.size() > 4000 ? soak.process.err.size() - 4000 : 0);
  EXPECT_EQ(soak.succeeded, 300u);
  EXPECT_EQ(soak.stats.duplicate_exports, 0u);
  EXPECT_EQ(soak.stats.projects_exported, 300u);
  const double ratio = static_cast<double>(soak.stats.requests) / static_cast<double>(baseline.stats.requests);
  std::cout << "[ figures  ] fault soak: " << soak.stats.requests << " requests (" << soak.stats.injected_faults
            << " faults injected, " << soak.stats.token_requests << " token requests) vs " << baseline.stats.requests
            << " without faults: " << ratio << "x; " << soak.process.wall_seconds << " s vs "
            << baseline.process.wall_seconds << " s; exports/progress/list: " << soak.stats.export_requests << "/"
            << soak.stats.progress_requests << "/" << soak.stats.list_requests << " vs "
            << baseline.stats.export_requests << "/" << baseline.stats.progress_requests << "/"
            << baseline.stats.list_requests << "\n";
  if (const char* keep = std::getenv("EXPORTD_SOAK_LOG")) std::ofstream(keep) << soak.process.err;
  // What the run did besides the jobs' own calls, for a ratio out of bounds.
  std::string run_events;
  std::istringstream log(soak.process.err);
  for (std::string line; std::getline(log, line);)
    if (line.find(" sweeps_") != std::string::npos || line.find(" api_held") != std::string::npos ||
        line.find(" api_back") != std::string::npos)
      run_events += line.substr(0, 300) + "\n";
  EXPECT_LE(ratio, 1.5) << run_events;
}

TEST(Resilience, TheBudgetKeepsUnderTheApiRateLimit) {
  sim::Knobs k;
  k.export_min = 2000ms;
  k.export_max = 5000ms;
  k.rate_limit = 30;
  const auto r = batch(k, 200, config_tail("  requests_per_second: 25\n"), "ratelimit");
  ASSERT_EQ(r.process.exit_code, 0) << r.process.err.substr(0, 2000);
  EXPECT_EQ(r.succeeded, 200u);
  EXPECT_EQ(r.stats.rate_limited, 0u);
  EXPECT_LE(r.stats.max_per_second, 26u);
  const double expected = static_cast<double>(r.stats.requests) / 25.0;
  std::cout << "[ figures  ] rate limit: " << r.stats.requests << " requests in " << r.process.wall_seconds
            << " s (requests/25 = " << expected << " s), busiest second " << r.stats.max_per_second
            << ", refused for rate " << r.stats.rate_limited << "\n";
  // The pacer cannot be faster than the budget (a busy machine only makes it slower).
  EXPECT_GE(r.process.wall_seconds, expected * 0.8);
}

TEST(Resilience, AnOutageAtTheStartCostsAFewProbesNotAStorm) {
  sim::Knobs k;
  k.export_min = 2000ms;
  k.export_max = 4000ms;
  k.outage_for = 10000ms;
  const auto r = batch(k, 100, config_tail("  requests_per_second: 0\n", ""), "outage");
  ASSERT_EQ(r.process.exit_code, 0) << r.process.err.substr(0, 3000);
  EXPECT_EQ(r.succeeded, 100u);
  std::cout << "[ figures  ] 10 s outage: " << r.stats.outage_requests << " requests during it; "
            << r.stats.requests << " in all, " << r.process.wall_seconds << " s\n";
  EXPECT_LE(r.stats.outage_requests, 36u);
  EXPECT_NE(r.process.err.find("api_back"), std::string::npos);
}

TEST(Resilience, TheDaemonWaitsOutRefusedCredentialsAndSaysWhy) {
  sim::Simulator sim(sim::Knobs{});
  Workspace ws("daemon-badkey");
  ws.write_config(sim.port(), false, "wrong-key", "retry:\n  initial_backoff: 200ms\n  max_backoff: 1s\n");
  testing::drop_job_file(ws, "j.yaml", 0, 5, "c");
  testing::ChildProcess daemon({testing::exportd_binary(), "run", "-c", ws.path("config.yaml")});
  ASSERT_TRUE(testing::wait_until(
      [&] { return Workspace::read(ws.path("state/status.json")).find("refused the credentials") != std::string::npos; },
      10s));
  const auto status = run_process({testing::exportd_binary(), "status", "-c", ws.path("config.yaml")}, 10s);
  EXPECT_NE(status.out.find("last error: the API refused the credentials"), std::string::npos) << status.out;
  // It keeps trying, with gaps from 200 ms growing to 1 s: never faster than one try per 200 ms.
  const auto since = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::wait_until([&] { return sim.stats().token_requests >= 4; }, 60s));
  const auto tries = sim.stats().token_requests;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  EXPECT_LE(static_cast<double>(tries), 2.0 + elapsed / 0.2) << elapsed << " s";
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(10s).exit_code, 0);
  EXPECT_EQ(ws.results_text(), "");  // no job was marked failed for it
}

}  // namespace
}  // namespace exportd
