// exportd-bench-intake: how long the event loop is held up while a dropped
// job file is taken in whose many jobs name one large scenes file (issue 26,
// finding 8). One job is polled all along (every 250 ms) and the daemon runs
// under a pretend systemd with WatchdogSec=2s (a ping every second); then a
// file of N create jobs naming one scenes file of M MiB is dropped. Printed:
// the longest gap between progress reads and between watchdog pings from the
// drop until the file is claimed and read, and how long the intake took.
// With --baseline, another exportd binary (e.g. an older commit's) is run
// the same way in the same invocation, and the figures are set side by side.
//
//   exportd-bench-intake [--jobs 100] [--scenes-mib 7.5] [--baseline PATH]

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include <boost/program_options.hpp>

#include "bench_cli.hpp"
#include "notify_socket.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
using namespace exportd;
using namespace std::chrono_literals;

namespace {

struct Figures {
  double progress_gap_ms = 0;  // longest gap between progress reads after the drop
  double ping_gap_ms = 0;      // longest gap between watchdog pings spanning or after the drop
  double intake_ms = 0;        // from the drop until the file was claimed
  bool ok = false;
};

double longest_gap_ms(const std::vector<double>& times_ms, double from_ms) {
  double gap = 0;
  for (std::size_t i = 1; i < times_ms.size(); ++i)
    if (times_ms[i] > from_ms) gap = std::max(gap, times_ms[i] - times_ms[i - 1]);
  return gap;
}

Figures run(const std::string& binary, int jobs, const std::string& scenes) {
  sim::Knobs k;
  k.export_min = 600'000ms;  // one long export, polled all along
  k.export_max = 600'000ms;
  k.record_progress_times = true;
  sim::Simulator sim(k);
  testing::Workspace ws("bench-intake");
  ws.write_config(sim.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 0\n  max_active_jobs: 1\n"
                  "polling:\n  first_poll_after: 250ms\n  min_interval: 250ms\n  max_interval: 250ms\n");
  testing::NotifySocket notify(ws.path("notify.sock"));
  testing::ChildProcess daemon({binary, "run", "-c", ws.path("config.yaml")},
                               {"NOTIFY_SOCKET=" + ws.path("notify.sock"), "WATCHDOG_USEC=2000000"});
  Figures f;
  if (!testing::wait_until([&] { return notify.count("READY=1") >= 1; }, 30s)) return f;
  ws.write("state/incoming/poll.yaml", "project_id: p0000\n");
  if (!testing::wait_until([&] { return sim.stats().progress_requests >= 4 && notify.count("WATCHDOG=1") >= 2; }, 30s))
    return f;
  ws.write("state/incoming/big.json", scenes);
  std::string text = "jobs:\n";
  for (int i = 0; i < jobs; ++i) text += "  - scenes_file: big.json\n    id: b" + std::to_string(i) + "\n";
  ws.write("state/incoming/.big.tmp", text);
  const auto origin = std::chrono::steady_clock::now();
  const double sim_origin_ms = static_cast<double>(sim.stats().progress_at_ms.back());
  std::filesystem::rename(ws.path("state/incoming/.big.tmp"), ws.path("state/incoming/big.yaml"));
  if (!testing::wait_until([&] { return daemon.err_so_far().find("claimed file=big.yaml") != std::string::npos; },
                           600s))
    return f;
  f.intake_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - origin).count();
  // One more read and one more ping after the claim: a gap that spans the claim is counted whole.
  const auto reads = sim.stats().progress_requests;
  const auto pings = notify.count("WATCHDOG=1");
  testing::wait_until(
      [&] { return sim.stats().progress_requests >= reads + 2 && notify.count("WATCHDOG=1") >= pings + 2; }, 30s);
  std::vector<double> read_ms;
  for (auto t : sim.stats().progress_at_ms) read_ms.push_back(static_cast<double>(t));
  f.progress_gap_ms = longest_gap_ms(read_ms, sim_origin_ms);
  std::vector<double> ping_ms;
  for (auto t : notify.times("WATCHDOG=1"))
    ping_ms.push_back(std::chrono::duration<double, std::milli>(t - origin).count());
  f.ping_gap_ms = longest_gap_ms(ping_ms, 0);
  daemon.signal(SIGTERM);
  f.ok = daemon.wait(30s).exit_code == 0;
  return f;
}

void print(const char* who, const Figures& f) {
  std::printf("  %-9s progress gap %8.0f ms   watchdog gap %8.0f ms   intake %8.0f ms%s\n", who, f.progress_gap_ms,
              f.ping_gap_ms, f.intake_ms, f.ok ? "" : "   (did not finish cleanly)");
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("exportd-bench-intake");
  o.add_options()("help", "this help")("jobs", po::value<int>()->default_value(100), "create jobs in the dropped file")(
      "scenes-mib", po::value<double>()->default_value(7.5), "size of the one scenes file they all name, MiB")(
      "baseline", po::value<std::string>(), "another exportd binary, run the same way first");
  po::variables_map vm;
  if (const auto exit = testing::parse_bench_options(argc, argv, o, vm)) return *exit;
  const int jobs = vm["jobs"].as<int>();
  const auto scenes = testing::many_clips_scenes(static_cast<std::size_t>(vm["scenes-mib"].as<double>() * 1024 * 1024));
  std::printf(
      "exportd-bench-intake: %d create jobs naming one %.1f MiB scenes file; one job polled every 250 ms, "
      "WatchdogSec=2s\n",
      jobs, static_cast<double>(scenes.size()) / (1 << 20));
  std::optional<Figures> base;
  if (vm.count("baseline")) {
    base = run(vm["baseline"].as<std::string>(), jobs, scenes);
    print("baseline", *base);
  }
  const auto now = run(testing::exportd_binary(), jobs, scenes);
  print("this", now);
  if (base && now.progress_gap_ms > 0 && now.ping_gap_ms > 0)
    std::printf("  ratio     progress gap %.1fx shorter, watchdog gap %.1fx shorter\n",
                base->progress_gap_ms / now.progress_gap_ms, base->ping_gap_ms / now.ping_gap_ms);
  return now.ok ? 0 : 1;
}
