// exportd under a (pretend) systemd: sd_notify messages to a socket the test
// owns, and journald-style log lines.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <signal.h>

#include "measure.hpp"
#include "notify_socket.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using testing::Workspace;

using testing::NotifySocket;

TEST(Service, NotifiesReadyStatusWatchdogReloadingAndStopping) {
  sim::Knobs k;
  k.export_min = 2000ms;
  k.export_max = 3000ms;
  sim::Simulator sim(k);
  Workspace ws("service-notify");
  ws.write_config(sim.port(), false, "demo-key", "");
  testing::drop_job_file(ws, "n.yaml", 0, 5, "n");
  NotifySocket notify(ws.path("notify.sock"));
  testing::ChildProcess daemon({testing::exportd_binary(), "run", "-c", ws.path("config.yaml")},
                               {"NOTIFY_SOCKET=" + ws.path("notify.sock"), "WATCHDOG_USEC=400000"});
  ASSERT_TRUE(testing::wait_until([&] { return notify.count("READY=1") >= 1; }, 10s));
  // Pings at half of WatchdogSec: about every 200 ms, never faster (a busy machine only makes them rarer).
  const auto before = notify.count("WATCHDOG=1");
  const auto since = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::wait_until([&] { return notify.count("WATCHDOG=1") - before >= 4; }, 30s));
  const auto pings = notify.count("WATCHDOG=1") - before;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  EXPECT_LE(static_cast<double>(pings), 2.0 + elapsed / 0.2) << elapsed << " s";
  EXPECT_TRUE(testing::wait_until([&] { return notify.count("STATUS=") >= 1; }, 30s));
  bool counts = false;
  for (const auto& m : notify.messages())
    counts = counts || (m.find("STATUS=") == 0 && m.find(" active, ") != std::string::npos);
  EXPECT_TRUE(counts);
  daemon.signal(SIGHUP);
  EXPECT_TRUE(
      testing::wait_until([&] { return notify.count("RELOADING=1") == 1 && notify.count("READY=1") >= 2; }, 30s));
  daemon.signal(SIGTERM);
  EXPECT_TRUE(testing::wait_until([&] { return notify.count("STOPPING=1") == 1; }, 5s));
  EXPECT_EQ(daemon.wait(10s).exit_code, 0);
  std::cout << "[ figures  ] " << notify.messages().size() << " notify messages, " << pings << " watchdog pings in "
            << elapsed << " s (WATCHDOG_USEC=400000)\n";
}

TEST(Service, TheUserKeyComesFromTheSystemdCredential) {
  sim::Knobs k;
  k.export_min = 500ms;
  k.export_max = 1000ms;
  sim::Simulator sim(k);
  Workspace ws("service-credential");
  ws.write("creds/user_key", "demo-key\n");
  ws.write("config.yaml", "api:\n  base_url: http://127.0.0.1:" + std::to_string(sim.port()) +
                              "\n  app_id: demo-app\n  user_key_credential: user_key\nstate_dir: state\n"
                              "queue_files: [jobs.yaml]\npolling:\n  first_poll_after: 1s\n  min_interval: 250ms\n");
  ws.write_export_jobs("jobs.yaml", 3);
  const std::vector<std::string> argv{testing::exportd_binary(), "run", "-c", ws.path("config.yaml"), "--once"};
  auto without = testing::run_process(argv, 10s);
  EXPECT_EQ(without.exit_code, 2);
  EXPECT_NE(without.err.find("CREDENTIALS_DIRECTORY is not"), std::string::npos) << without.err;
  auto with = testing::run_process(argv, 30s, {"CREDENTIALS_DIRECTORY=" + ws.path("creds")});
  EXPECT_EQ(with.exit_code, 0) << with.err;
}

// What systemd does for exportd@NAME.service, done by hand (no systemd in
// the test): the unit's own ExecStart with %i replaced, /etc/exportd/ moved
// into the workspace, the credential from LoadCredential= in its own folder.
struct Instance {
  std::string name;
  std::unique_ptr<sim::Simulator> sim;
  std::uint16_t metrics_port = 0;
  std::vector<std::string> argv;
  std::vector<std::string> env;
};

std::string unit_line(const std::string& unit, const std::string& key) {
  std::istringstream in(unit);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return {};
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST(Service, TwoTemplateInstancesRunSideBySideEachExportingOnlyItsOwnJobs) {
  const auto unit = Workspace::read(std::string(EXPORTD_SOURCE_DIR) + "/systemd/exportd@.service");
  ASSERT_NE(unit_line(unit, "StateDirectory"), "");
  Workspace ws("service-instances");
  std::vector<Instance> instances;
  for (const std::string name : {"acme", "zenith"}) {
    Instance in;
    in.name = name;
    sim::Knobs k;
    k.export_min = 500ms;
    k.export_max = 1500ms;
    k.user_key = name + "-key";  // each account has its own key; the other one's is refused
    in.sim = std::make_unique<sim::Simulator>(k);
    in.metrics_port = testing::free_loopback_port();
    const auto etc = ws.path("etc/exportd/");
    const auto state = ws.path(std::string("var/lib/") + unit_line(unit, "StateDirectory"));
    const auto at = [&](std::string text) {
      const auto swap = [&](const std::string& from, const std::string& to) {
        for (auto p = text.find(from); p != std::string::npos; p = text.find(from, p + to.size()))
          text.replace(p, from.size(), to);
      };
      swap("%i", name);
      swap("/etc/exportd/", etc);
      return text;
    };
    ws.write("etc/exportd/" + name + ".user_key", name + "-key\n");
    ws.write("etc/exportd/" + name + ".yaml",
             "api:\n  base_url: http://127.0.0.1:" + std::to_string(in.sim->port()) +
                 "\n  app_id: demo-app\n  user_key_credential: user_key\nstate_dir: " + at(state) +
                 "\npolling:\n  first_poll_after: 1s\n  min_interval: 250ms\nmetrics:\n  listen: 127.0.0.1:" +
                 std::to_string(in.metrics_port) + "\n");
    // LoadCredential=user_key:/etc/exportd/%i.user_key
    const auto cred = unit_line(unit, "LoadCredential");
    const auto colon = cred.find(':');
    ws.write("creds/" + name + "/" + cred.substr(0, colon), Workspace::read(at(cred.substr(colon + 1))));
    in.env = {"CREDENTIALS_DIRECTORY=" + ws.path("creds/" + name)};
    auto pre = words(at(unit_line(unit, "ExecStartPre")));
    pre[0] = testing::exportd_binary();
    auto check = testing::run_process(pre, 20s, in.env);
    ASSERT_EQ(check.exit_code, 0) << check.err;
    in.argv = words(at(unit_line(unit, "ExecStart")));
    in.argv[0] = testing::exportd_binary();
    instances.push_back(std::move(in));
  }
  std::vector<std::unique_ptr<testing::ChildProcess>> daemons;
  for (const auto& in : instances) daemons.push_back(std::make_unique<testing::ChildProcess>(in.argv, in.env));
  const auto results_of = [&](const Instance& in) { return ws.path("var/lib/exportd/" + in.name + "/results.jsonl"); };
  for (const auto& in : instances) {
    ASSERT_TRUE(testing::wait_until(
        [&] { return std::filesystem::exists(ws.path("var/lib/exportd/" + in.name + "/status.json")); }, 30s));
    // Each account's jobs go into its own drop folder.
    std::string jobs = "jobs:\n";
    for (int i = 0; i < 10; ++i) jobs += "  - project_id: " + in.name + "-" + std::to_string(i) + "\n";
    ws.write("var/lib/exportd/" + in.name + "/incoming/.n.tmp", jobs);
    std::filesystem::rename(ws.path("var/lib/exportd/" + in.name + "/incoming/.n.tmp"),
                            ws.path("var/lib/exportd/" + in.name + "/incoming/night.yaml"));
  }
  for (const auto& in : instances) {
    ASSERT_TRUE(testing::wait_until(
        [&] {
          std::ifstream f(results_of(in));
          return std::count(std::istreambuf_iterator<char>(f), {}, '\n') >= 10;
        },
        60s))
        << in.name;
  }
  for (auto& d : daemons) d->signal(SIGTERM);
  for (auto& d : daemons) EXPECT_EQ(d->wait(30s).exit_code, 0);
  for (const auto& in : instances) {
    const auto s = in.sim->stats();
    EXPECT_EQ(s.export_requests, 10u) << in.name;
    EXPECT_EQ(s.unauthorized, 0u) << in.name << " saw the other account's token";
    for (const auto& [project, calls] : s.calls_by_project)
      EXPECT_EQ(project.rfind(in.name + "-", 0), 0u) << in.name << "'s API was asked for " << project;
    const auto results = Workspace::read(results_of(in));
    EXPECT_EQ(std::count(results.begin(), results.end(), '\n'), 10);
    for (const auto& other : instances) {
      if (other.name != in.name) {
        EXPECT_EQ(results.find("\"" + other.name + "-"), std::string::npos)
            << in.name << " holds " << other.name << "'s result";
      }
    }
  }
}

}  // namespace
}  // namespace exportd
