// exportd-kill-soak: the crash-safety soak (not part of CI). Drops N jobs as
// files into the spool, SIGKILLs the daemon at K random moments, restarting
// it each time, and checks that every job ended exactly once and that the
// simulator saw no project exported twice.
//
//   exportd-kill-soak [--jobs 2000] [--files 40] [--kills 30] [--seed N]

#include <iostream>
#include <map>
#include <random>

#include <boost/program_options.hpp>

#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
using namespace exportd;
using Millis = std::chrono::milliseconds;

int main(int argc, char** argv) {
  po::options_description o("exportd-kill-soak");
  o.add_options()("help", "this help")("jobs", po::value<int>()->default_value(2000), "jobs in all")(
      "files", po::value<int>()->default_value(40), "job files they are dropped as")(
      "kills", po::value<int>()->default_value(30), "SIGKILLs")(
      "seed", po::value<std::uint64_t>()->default_value(std::random_device{}()), "random seed for the kill moments");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, o), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << o;
    return 0;
  }
  const int jobs = vm["jobs"].as<int>(), files = vm["files"].as<int>(), kills = vm["kills"].as<int>();
  sim::Knobs k;
  k.export_min = Millis(4000);
  k.export_max = Millis(12000);
  k.latency = Millis(10);
  sim::Simulator sim(k);
  testing::Workspace ws("kill-soak");
  ws.write("user_key", "demo-key\n");
  ws.write("config.yaml", "api:\n  base_url: http://127.0.0.1:" + std::to_string(sim.port()) +
                              "\n  app_id: demo-app\n  user_key_file: user_key\nstate_dir: state\n"
                              "limits:\n  max_active_jobs: 300\n  requests_per_second: 0\n"
                              "polling:\n  first_poll_after: 1s\n  min_interval: 250ms\n  max_interval: 3s\n");
  const int per_file = jobs / files;
  for (int f = 0; f < files; ++f) testing::drop_job_file(ws, "soak" + std::to_string(f) + ".yaml", f * per_file, per_file, "s");
  const auto total = static_cast<std::size_t>(per_file * files);
  const auto fig = testing::kill_and_restart(ws, kills, total, Millis(200), Millis(1500), Millis(600'000),
                                             vm["seed"].as<std::uint64_t>());
  std::map<std::string, int> per_key, per_status;
  for (const auto& r : ws.results()) {
    ++per_key[std::string(r.at("job").as_string())];
    ++per_status[std::string(r.at("status").as_string())];
  }
  int repeated = 0;
  for (const auto& [key, n] : per_key) repeated += n > 1;
  const auto s = sim.stats();
  std::printf("exportd-kill-soak: %zu jobs in %d files, seed %llu\n", total, files,
              static_cast<unsigned long long>(fig.seed));
  std::printf("  SIGKILLs              %d\n", fig.kills);
  std::printf("  wall time             %.1f s\n", fig.seconds);
  std::printf("  final exit (SIGTERM)  %d\n", fig.final_exit);
  std::printf("  result lines          %zu for %zu distinct jobs (%d jobs with more than one line)\n",
              ws.results().size(), per_key.size(), repeated);
  std::printf("  succeeded             %d\n", per_status["succeeded"]);
  std::printf("  projects exported     %llu, exported twice: %llu\n",
              static_cast<unsigned long long>(s.projects_exported), static_cast<unsigned long long>(s.duplicate_exports));
  const bool ok = per_key.size() == total && repeated == 0 && per_status["succeeded"] == static_cast<int>(total) &&
                  s.duplicate_exports == 0 && fig.final_exit == 0;
  std::printf("  verdict               %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
