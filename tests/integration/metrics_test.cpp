// /metrics end to end (SPEC §11): a live scrape during a run with faults is
// clean for promtool and agrees with the simulator's own counts; every
// metric the Grafana dashboard and the alert rules query is in it; the
// metrics listener and the webhook receiver never serve each other's paths.

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include "loopback_http.hpp"
#include "measure.hpp"
#include "process.hpp"
#include "scrape.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::run_argv;
using testing::run_process;
using testing::samples_of;
using testing::wait_ready;
using testing::wait_until;
using testing::Workspace;

testing::LoopbackReply get(std::uint16_t port, const std::string& target) {
  return testing::loopback_request(port, http::verb::get, target);
}

double sum_of(const std::map<std::string, double>& samples, const std::string& prefix) {
  double n = 0;
  for (const auto& [name, v] : samples)
    if (name.rfind(prefix, 0) == 0) n += v;
  return n;
}

std::string promtool() {
  const std::string bundled = std::string(EXPORTD_SOURCE_DIR) + "/.tools/usr/bin/promtool";
  return fs::exists(bundled) ? bundled : "promtool";  // scripts/install-deps puts it in .tools/
}

std::string metrics_config(std::uint16_t metrics_port, const std::string& extra = "") {
  return "limits:\n  requests_per_second: 0\n  max_connections: 8\n"
         "polling:\n  first_poll_after: 1s\n  min_interval: 500ms\n  max_interval: 2s\n"
         "retry:\n  max_attempts: 20\n  initial_backoff: 100ms\n  max_backoff: 1s\n"
         "metrics:\n  listen: 127.0.0.1:" +
         std::to_string(metrics_port) + "\n" + extra;
}

TEST(MetricsEndpoint, ALiveScrapeDuringARunWithFaultsIsCleanAndAgreesWithTheSimulator) {
  // EXPORTD_METRICS_JOBS=1000 for the issue's figure; the suite runs 300.
  const int jobs = std::getenv("EXPORTD_METRICS_JOBS") ? std::atoi(std::getenv("EXPORTD_METRICS_JOBS")) : 300;
  sim::Knobs k;
  k.export_min = 1000ms;
  k.export_max = 3000ms;
  k.rate_5xx = 0.05;
  k.rate_429 = 0.03;
  k.rate_drop = 0.02;
  k.rate_html = 0.01;
  k.token_lifetime = 1500ms;  // several renewals in the run
  sim::Simulator sim(k);
  Workspace ws("metrics-live");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", metrics_config(port));
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws));
  for (int i = 0; i < jobs; i += 100) testing::drop_job_file(ws, "m" + std::to_string(i) + ".yaml", i, 100, "m");

  // Mid-run: jobs in every state, and the page is clean.
  ASSERT_TRUE(wait_until([&] { return testing::result_lines(ws) >= static_cast<std::size_t>(jobs / 3); }, 150s));
  const auto mid = get(port, "/metrics");
  ASSERT_EQ(mid.status, 200);
  EXPECT_EQ(mid.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << mid.content_type;
  ws.write("scrape-mid.txt", mid.body);
  const auto check = run_process({"/bin/sh", "-c", promtool() + " check metrics < " + ws.path("scrape-mid.txt")}, 60s);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool has remarks";
  const auto m1 = samples_of(mid.body);
  EXPECT_GT(m1.at(R"(exportd_jobs{state="exporting"})") + m1.at(R"(exportd_jobs{state="queued"})"), 0);

  ASSERT_TRUE(wait_until([&] { return testing::result_lines(ws) >= static_cast<std::size_t>(jobs); }, 170s));
  const auto end = samples_of(get(port, "/metrics").body);
  const auto s = sim.stats();
  const auto near = [](double ours, double theirs) { return std::abs(ours - theirs) <= 0.02 * theirs + 1; };
  const double sent = sum_of(end, "exportd_api_requests_total{");
  std::cout << "[ figures  ] " << jobs << " jobs: exportd counted " << sent << " API requests, the simulator "
            << s.requests << " (" << s.token_requests << " token, " << s.export_requests << " export, "
            << s.progress_requests << " progress; " << s.injected_faults << " faults injected)\n";
  EXPECT_TRUE(near(sent, static_cast<double>(s.requests))) << sent << " vs " << s.requests;
  // The simulator's per-call counts leave out the calls it answered with a
  // fault; those are in exportd's, under their outcome. So: at least as many.
  EXPECT_GE(sum_of(end, R"(exportd_api_requests_total{call="token")"), static_cast<double>(s.token_requests));
  EXPECT_GE(sum_of(end, R"(exportd_api_requests_total{call="progress")"), static_cast<double>(s.progress_requests));
  EXPECT_GE(sum_of(end, R"(exportd_api_requests_total{call="export")"), static_cast<double>(jobs));
  EXPECT_GT(end.at(R"(exportd_api_requests_total{call="progress",outcome="server_error"})"), 0);
  EXPECT_GT(end.at(R"(exportd_api_requests_total{call="progress",outcome="throttled"})"), 0);
  EXPECT_GT(sum_of(end, "exportd_retries_total{"), 0);
  EXPECT_GE(end.at("exportd_token_renewals_total"), 2);
  EXPECT_EQ(sum_of(end, "exportd_jobs_ended_total{"), jobs);
  EXPECT_EQ(end.at(R"(exportd_jobs_ended_total{status="succeeded"})"), jobs);
  EXPECT_EQ(end.at("exportd_completion_lag_seconds_count"), jobs);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

// Every exportd_* name a query of `file` uses.
std::set<std::string> metric_names_in(const std::string& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const auto s = text.str();
  std::set<std::string> names;
  const std::regex name(R"(exportd_[a-z0-9_]+)");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), name); it != std::sregex_iterator(); ++it)
    names.insert(it->str());
  return names;
}

TEST(MetricsEndpoint, EveryMetricTheDashboardAndTheAlertsQueryIsInALiveScrape) {
  sim::Simulator sim(sim::Knobs{});
  Workspace ws("metrics-dashboard");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", metrics_config(port));
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws));
  const auto page = get(port, "/metrics");
  ASSERT_EQ(page.status, 200);
  std::set<std::string> served;
  for (const auto& [sample, v] : samples_of(page.body)) served.insert(sample.substr(0, sample.find('{')));
  const auto dashboard = std::string(EXPORTD_SOURCE_DIR) + "/contrib/grafana/exportd-dashboard.json";
  const auto alerts = std::string(EXPORTD_SOURCE_DIR) + "/contrib/prometheus/exportd-alerts.yml";
  boost::system::error_code ec;
  boost::json::parse(Workspace::read(dashboard), ec);
  EXPECT_FALSE(ec) << "the dashboard is not JSON: " << ec.message();
  const auto queried = metric_names_in(dashboard);
  EXPECT_GE(queried.size(), 12u);
  for (const auto& name : queried)
    EXPECT_TRUE(served.count(name)) << name << " is queried by the dashboard, not served";
  for (const auto& name : metric_names_in(alerts))
    EXPECT_TRUE(served.count(name)) << name << " is in an alert, not served";
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

TEST(MetricsEndpoint, MetricsAndHooksNeverShareAListener) {
  sim::Simulator sim(sim::Knobs{});
  Workspace ws("metrics-apart");
  const auto port = testing::free_loopback_port();
  auto hook_port = testing::free_loopback_port();
  while (hook_port == port) hook_port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key",
                  metrics_config(port, "webhook:\n  listen: 127.0.0.1:" + std::to_string(hook_port) +
                                           "\n  public_url: http://127.0.0.1:" + std::to_string(hook_port) + "\n"));
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws));
  EXPECT_EQ(get(port, "/metrics").status, 200);
  // HEAD: the head a GET would have (its length), no body; the connection goes on.
  const auto [head, then_get] = testing::loopback_head_then_get(port, "/metrics");
  ASSERT_TRUE(head.answered);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  ASSERT_TRUE(then_get.answered) << "a body after HEAD's head spoiled the next reply";
  EXPECT_EQ(then_get.status, 200);
  EXPECT_GT(std::stoul("0" + head.content_length), 1000u);
  EXPECT_EQ(get(hook_port, "/metrics").status, 404) << "the API's hooks could read the metrics";
  EXPECT_EQ(get(port, "/hooks/" + std::string(32, 'a')).status, 404);
  EXPECT_EQ(get(port, "/").status, 404);
  // The refused hook is counted, on the metrics port.
  get(hook_port, "/hooks/" + std::string(32, 'a'));
  const auto m = samples_of(get(port, "/metrics").body);
  EXPECT_EQ(m.at(R"(exportd_webhook_calls_total{outcome="unknown"})"), 2);  // "/metrics" on the hook port too
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

TEST(MetricsEndpoint, TheAlertRulesPassPromtoolsCheckAndTheirOwnTests) {
  const auto dir = std::string(EXPORTD_SOURCE_DIR) + "/contrib/prometheus";
  auto check = run_process({promtool(), "check", "rules", dir + "/exportd-alerts.yml"}, 60s);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS: 6 rules found"), std::string::npos) << check.out;
  auto test =
      run_process({"/bin/sh", "-c", "cd " + dir + " && " + promtool() + " test rules exportd-alerts.test.yml"}, 60s);
  EXPECT_EQ(test.exit_code, 0) << test.out << test.err;
}

}  // namespace
}  // namespace exportd
