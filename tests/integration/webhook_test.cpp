// The webhook receiver end to end (SPEC §9): the simulator calls each job's
// webhookUrl at 100 %, exportd reads the progress once and ends the job on
// the API's own reply.

#include <csignal>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "hooks/hook_keys.hpp"
#include "loopback_http.hpp"
#include "measure.hpp"
#include "process.hpp"
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
using testing::run_once;
using testing::wait_ready;
using testing::wait_until;
using testing::Workspace;

// Polling set so slow that a job ends on its hook, or not for ten minutes.
std::string hooked_config(std::uint16_t port, const std::string& extra = "") {
  return "limits:\n  requests_per_second: 0\n"
         "polling:\n  first_poll_after: 10s\n  min_interval: 3s\n  max_interval: 60s\n"
         "webhook:\n  listen: 127.0.0.1:" +
         std::to_string(port) + "\n  public_url: http://127.0.0.1:" + std::to_string(port) +
         "/exportd\n  safety_poll: 10m\n" + extra;
}

// Exports that take from `min` to `max`.
sim::Knobs quick(std::chrono::milliseconds min = 1000ms, std::chrono::milliseconds max = 2000ms) {
  sim::Knobs k;
  k.export_min = min;
  k.export_max = max;
  return k;
}

// One request to the receiver, as a client of ours would send it.
testing::LoopbackReply send(std::uint16_t port, http::verb method, const std::string& target,
                            const std::string& body = {}) {
  return testing::loopback_request(port, method, target, body);
}

TEST(Webhook, JobsEndOnTheirHooksForAboutTwoCallsEach) {
  auto k = quick();
  k.hook_method = "mixed";  // POST with JSON and GET with a query, both taken
  k.hook_duplicate = 0.3;   // one read however many hooks come
  sim::Simulator sim(k);
  Workspace ws("hook-basic");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", hooked_config(port));
  ws.write_export_jobs("q.yaml", 20, "h");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto s = sim.stats();
  std::size_t succeeded = 0;
  for (const auto& line : ws.results()) succeeded += line.at("status").as_string() == "succeeded";
  EXPECT_EQ(succeeded, 20u);
  EXPECT_EQ(s.export_requests, 20u);
  EXPECT_GE(s.hooks_ok, 20u);
  EXPECT_EQ(s.hooks_refused, 0u);
  const double calls = static_cast<double>(s.export_requests + s.progress_requests) / 20.0;
  std::cout << "[ figures  ] " << calls << " API calls per job (token calls aside), " << s.hooks_sent << " hooks\n";
  EXPECT_LE(calls, 2.2);
}

TEST(Webhook, ForgedOversizedAndSilentCallsAreRefusedWithoutAnApiCall) {
  sim::Simulator sim(quick(3000ms, 4000ms));
  Workspace ws("hook-hostile");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", hooked_config(port));
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws));

  // A connection that never sends its request does not hold up the others.
  asio::io_context io;
  asio::ip::tcp::socket silent(io);
  silent.connect({asio::ip::make_address("127.0.0.1"), port});

  const auto before = sim.stats().progress_requests;
  EXPECT_EQ(send(port, http::verb::post, "/exportd/hooks/" + std::string(32, 'a'), "{\"progress\":100}").status, 404);
  EXPECT_EQ(send(port, http::verb::get, "/hooks/not-a-token?progress=100").status, 404);
  EXPECT_EQ(send(port, http::verb::get, "/somewhere/else").status, 404);
  EXPECT_EQ(send(port, http::verb::post, "/exportd/hooks/" + std::string(32, 'b'), std::string(100 * 1024, 'x')).status,
            413);
  EXPECT_EQ(sim.stats().progress_requests, before) << "a refused hook cost an API call";

  testing::drop_job_file(ws, "a.yaml", 0, 5, "s");
  ASSERT_TRUE(wait_until([&] { return ws.results().size() == 5; }, 60s)) << "hooks stalled behind a silent client";
  for (const auto& line : ws.results()) EXPECT_EQ(line.at("status").as_string(), "succeeded");
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

TEST(Webhook, AHookClaimingTheFinishEarlyIsOnlyAHint) {
  auto k = quick(4000ms, 5000ms);
  k.hook_false_finish = 1.0;  // half-way: "100 %" and a foreign link
  sim::Simulator sim(k);
  Workspace ws("hook-false");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", hooked_config(port));
  ws.write_export_jobs("q.yaml", 4, "f");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& line : ws.results()) {
    EXPECT_EQ(line.at("status").as_string(), "succeeded");
    const std::string url(line.at("download_url").as_string());
    EXPECT_EQ(url.find("evil.example"), std::string::npos) << url;
    EXPECT_EQ(url.rfind("https://cdn.sim.invalid/", 0), 0u) << url;
  }
  // The early hook made a read that found the export still running.
  EXPECT_GE(sim.stats().progress_requests, 8u);
}

TEST(Webhook, NoHookTokenReachesTheDebugLog) {
  sim::Simulator sim(quick());
  Workspace ws("hook-log");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", hooked_config(port, "log:\n  level: debug\n"));
  ws.write_export_jobs("q.yaml", 10, "l");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto perms = fs::status(ws.path("state/hook.key")).permissions();
  EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << "hook.key must be 0600";
  const HookKeys keys(Workspace::read(ws.path("state/hook.key")));
  std::size_t checked = 0;
  for (const auto& line : ws.results()) {
    const auto token =
        keys.token_for(std::string(line.at("batch").as_string()), std::string(line.at("job").as_string()));
    EXPECT_EQ(r.err.find(token), std::string::npos) << "token of " << line.at("job").as_string() << " logged";
    EXPECT_EQ(r.out.find(token), std::string::npos);
    EXPECT_EQ(ws.results_text().find(token), std::string::npos);
    ++checked;
  }
  EXPECT_EQ(checked, 10u);
  EXPECT_NE(r.err.find("hook"), std::string::npos) << "the debug log says hooks came (without their tokens)";
}

TEST(Webhook, AfterKill9TheRestartedDaemonTakesTheHooksAndExportsNothingTwice) {
  sim::Simulator sim(quick(6000ms, 8000ms));
  Workspace ws("hook-kill");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", hooked_config(port));
  {
    ChildProcess daemon(run_argv(ws));
    ASSERT_TRUE(wait_ready(ws));
    testing::drop_job_file(ws, "k.yaml", 0, 8, "k");
    ASSERT_TRUE(wait_until([&] { return sim.stats().export_requests == 8; }, 60s));
    daemon.signal(SIGKILL);
    daemon.wait(10s);
  }
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_until([&] { return ws.results().size() == 8; }, 90s));
  const auto s = sim.stats();
  EXPECT_EQ(s.duplicate_exports, 0u);
  EXPECT_EQ(s.export_requests, 8u);
  EXPECT_EQ(s.hooks_refused, 0u) << "a hook of a job submitted before the kill was refused";
  for (const auto& line : ws.results()) EXPECT_EQ(line.at("status").as_string(), "succeeded");
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

// A restart costs a hooked job nothing it would not have cost anyway (SPEC
// §9): killed once every export is submitted, the restarted daemon reads no
// job at once (none can have finished while it was down: no export is that
// quick) and every job ends on its hook: about two calls a job.
TEST(Webhook, ARestartReadsOnlyTheJobsWhoseHookMayHaveComeWhileDown) {
  sim::Simulator sim(quick(10000ms, 14000ms));
  Workspace ws("hook-restart-calls");
  const auto port = testing::free_loopback_port();
  ws.write_config(sim.port(), false, "demo-key", hooked_config(port));
  constexpr int jobs = 20;
  {
    ChildProcess daemon(run_argv(ws));
    ASSERT_TRUE(wait_ready(ws));
    testing::drop_job_file(ws, "r.yaml", 0, jobs, "r");
    ASSERT_TRUE(wait_until([&] { return sim.stats().export_requests == jobs; }, 60s));
    daemon.signal(SIGKILL);
    daemon.wait(10s);
  }
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_until([&] { return ws.results().size() == jobs; }, 120s));
  const auto s = sim.stats();
  const double calls = static_cast<double>(s.export_requests + s.progress_requests) / jobs;
  std::cout << "[ figures  ] " << calls << " API calls per job across one restart (token calls aside), "
            << s.hooks_sent << " hooks, " << s.hooks_failed << " unanswered\n";
  EXPECT_LE(calls, 2.3);
  EXPECT_EQ(s.duplicate_exports, 0u);
  for (const auto& line : ws.results()) EXPECT_EQ(line.at("status").as_string(), "succeeded");
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

}  // namespace
}  // namespace exportd
