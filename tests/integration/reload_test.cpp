// SIGHUP and supervision against the real binary: each reloadable key that
// can be seen from outside is changed with SIGHUP and seen to take effect;
// a key that needs a restart is named and kept. No test here asserts speed.

#include <filesystem>

#include <gtest/gtest.h>
#include <signal.h>

#include "measure.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::drop_job_file;
using testing::result_lines;
using testing::wait_until;
using testing::run_argv;
using testing::wait_ready;
using testing::Workspace;

sim::Knobs quick() {
  sim::Knobs k;
  k.export_min = 200ms;
  k.export_max = 600ms;
  return k;
}

const std::string polling = "polling:\n  first_poll_after: 200ms\n  min_interval: 200ms\n  max_interval: 1s\n"
                            "limits:\n  requests_per_second: 0\n";

void drop(const Workspace& ws, const std::string& name, const std::string& text) {
  ws.write("state/incoming/." + name + ".tmp", text);
  fs::rename(ws.path("state/incoming/." + name + ".tmp"), ws.path("state/incoming/" + name));
}

TEST(Reload, EachLiveKeyTakesEffectOnSighupAndRestartKeysAreNamedAndKept) {
  sim::Simulator sim(quick());
  Workspace ws("reload-keys");
  ws.write("scenes/s.json", R"([{"sceneIdx":0,"background":{},"clips":[]}])");
  ws.write("q.yaml", "jobs:\n  - project_id: queued0\n  - project_id: queued1\n");
  ws.write_config(sim.port(), false, "demo-key", polling + "defaults:\n  resolution: \"1080\"\n");
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws, 30s));

  drop_job_file(ws, "before.yaml", 0, 1, "before");
  drop(ws, "scenes-before.yaml", "jobs:\n  - scenes_file: " + ws.path("scenes/s.json") + "\n");
  ASSERT_TRUE(wait_until([&] { return result_lines(ws) >= 1; }, 60s));
  ASSERT_TRUE(wait_until([&] { return fs::exists(ws.path("state/rejected/scenes-before.yaml.error")); }, 30s))
      << "outside the drop folder before jobs.scenes_root is set";
  EXPECT_EQ(sim.stats().resolutions["before0000"], "1080");

  // Every observable live key changes at once, and one restart-only key.
  std::string api_extra;  // app_id changes below: needs a restart, keeps "demo-app"
  ws.write("config.yaml", "api:\n  base_url: http://127.0.0.1:" + std::to_string(sim.port()) +
                              "\n  app_id: another-app\n  user_key_file: user_key\nstate_dir: state\n" + polling +
                              "defaults:\n  resolution: \"720\"\nqueue_files:\n  - q.yaml\njobs:\n  scenes_root: scenes\n"
                              "log:\n  level: warning\n  format: json\n");
  daemon.signal(SIGHUP);
  // queue_files: the new queue file runs.
  EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 3; }, 60s)) << result_lines(ws);
  // defaults.resolution: a job dropped now asks for 720.
  drop_job_file(ws, "after.yaml", 0, 1, "after");
  // jobs.scenes_root: a scenes file there is now accepted.
  drop(ws, "scenes-after.yaml", "jobs:\n  - scenes_file: " + ws.path("scenes/s.json") + "\n");
  EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 5; }, 60s)) << result_lines(ws);
  EXPECT_FALSE(fs::exists(ws.path("state/rejected/scenes-after.yaml.error")));
  EXPECT_EQ(sim.stats().resolutions["after0000"], "720");
  daemon.signal(SIGTERM);
  const auto r = daemon.wait(30s);
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // log.level and log.format: after the reload, JSON lines at warning and above only.
  const auto anchor = r.err.find(" reloaded ");
  ASSERT_NE(anchor, std::string::npos) << r.err;
  const auto after = r.err.substr(r.err.find('\n', anchor) + 1);
  ASSERT_NE(after.find("\"event\":\"stopping\""), std::string::npos) << after;
  for (std::size_t at = 0; at < after.size();) {
    const auto nl = after.find('\n', at);
    const auto line = after.substr(at, nl - at);
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.find("\"level\":\"info\""), std::string::npos) << line;
    at = nl == std::string::npos ? after.size() : nl + 1;
  }
  EXPECT_NE(r.err.find("changed=queue_files,defaults.resolution,jobs.scenes_root,log.level,log.format"), std::string::npos)
      << r.err;
  // api.app_id: named as needing a restart, and the running value kept (jobs still succeed).
  EXPECT_NE(r.err.find("reload_partial needs_restart=api.app_id"), std::string::npos) << r.err;
  for (const auto& res : ws.results()) EXPECT_EQ(res.at("status").as_string(), "succeeded");
}

// webhook.safety_poll is live: a job dropped after the SIGHUP whose hook
// never comes is read at the new safety interval; one submitted before keeps
// the interval it was given.
TEST(Reload, ASafetyPollChangeTakesEffectOnSighup) {
  auto k = quick();
  k.hook_lost = 1.0;  // no hook ever comes: only the safety poll ends a job
  sim::Simulator sim(k);
  Workspace ws("reload-safety");
  const auto port = testing::free_loopback_port();
  const auto hook = [&](const std::string& safety) {
    return polling + "webhook:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n  public_url: http://127.0.0.1:" +
           std::to_string(port) + "/exportd\n  safety_poll: " + safety + "\n";
  };
  ws.write_config(sim.port(), false, "demo-key", hook("10m"));
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws, 30s));
  drop_job_file(ws, "before.yaml", 0, 1, "before");
  ASSERT_TRUE(wait_until([&] { return sim.stats().export_requests == 1; }, 30s));

  ws.write_config(sim.port(), false, "demo-key", hook("2s"));
  daemon.signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return daemon.err_so_far().find("changed=webhook.safety_poll") != std::string::npos; },
                         30s));
  drop_job_file(ws, "after.yaml", 0, 1, "after");
  ASSERT_TRUE(wait_until([&] { return result_lines(ws) >= 1; }, 60s)) << "the new safety poll never came";
  const auto results = ws.results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].at("project_id").as_string(), "after0000");
  EXPECT_EQ(results[0].at("status").as_string(), "succeeded");
  daemon.signal(SIGTERM);
  const auto r = daemon.wait(30s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("changed=webhook.safety_poll"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace exportd
