// exportd-bench: N export jobs through the real exportd binary against the
// in-process simulator; prints wall time, exportd CPU and peak RSS, API calls
// per job, and the lag between an export reaching 100 % on the simulator and
// exportd recording it. A second, small run gives the per-job memory slope.
//
//   exportd-bench [--jobs 10000] [--export-ms 3000] [--baseline-jobs 1000]
//                 [--first-poll 1s] [--min-interval 500ms] [--max-interval 10s]
//                 [--rps 0] [--connections 8]

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <malloc.h>

#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>

#include "bench_cli.hpp"

#include "auth/token_source.hpp"
#include "engine/exporter.hpp"

#include "measure.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
using namespace exportd;
using Millis = std::chrono::milliseconds;

namespace {

using testing::parse_rfc3339_ms;
using testing::percentile;

struct Figures {
  int jobs = 0;
  int succeeded = 0;
  testing::ProcessResult run;
  sim::Stats stats;
  std::vector<double> lag_ms;
};

Figures run_batch(int jobs, const po::variables_map& vm) {
  sim::Knobs k;
  k.export_min = k.export_max = Millis(vm["export-ms"].as<long>());
  sim::Simulator sim(k);
  testing::Workspace ws("bench-" + std::to_string(jobs));
  const std::string extra = "queue_files: [jobs.yaml]\nlimits:\n  max_active_jobs: " + std::to_string(jobs) +
                            "\n  max_connections: " + std::to_string(vm["connections"].as<int>()) +
                            "\n  requests_per_second: " + std::to_string(vm["rps"].as<int>()) +
                            "\npolling:\n  first_poll_after: " + vm["first-poll"].as<std::string>() +
                            "\n  min_interval: " + vm["min-interval"].as<std::string>() +
                            "\n  max_interval: " + vm["max-interval"].as<std::string>() + "\nlog:\n  level: warning\n";
  ws.write_config(sim.port(), false, "demo-key", extra);
  ws.write_export_jobs("jobs.yaml", jobs);
  Figures f;
  f.jobs = jobs;
  f.run = testing::run_process({testing::exportd_binary(), "run", "-c", ws.path("config.yaml"), "--once"},
                               std::chrono::minutes(20));
  f.stats = sim.stats();
  for (const auto& r : ws.results()) {
    if (r.at("status").as_string() != "succeeded") continue;
    ++f.succeeded;
    const auto it = f.stats.completed_at_ms.find(std::string(r.at("project_id").as_string()));
    if (it == f.stats.completed_at_ms.end()) continue;
    f.lag_ms.push_back(
        static_cast<double>(parse_rfc3339_ms(std::string(r.at("finished_at").as_string())) - it->second));
  }
  return f;
}

// Heap held per accepted job, measured in-process: the JobSpec, ExportJob
// and queue entry that Exporter keeps, nothing transient (no YAML parsing).
double heap_bytes_per_job(int jobs) {
  struct NoTransport final : Transport {
    boost::asio::awaitable<ApiResult<HttpReply>> exchange(const ApiRequest&, std::string_view) override {
      co_return ApiError{};
    }
  } transport;
  struct NoLedger final : JobLedger {
    boost::asio::awaitable<void> submit_started(const std::string&, const std::string&) override { co_return; }
    boost::asio::awaitable<void> submitted(const std::string&, const std::string&, const std::string&,
                                           std::chrono::system_clock::time_point) override {
      co_return;
    }
    boost::asio::awaitable<void> downloading(const std::string&, const std::string&, const DownloadRecord&) override {
      co_return;
    }
    boost::asio::awaitable<void> delivering(const std::string&, const std::string&, const DeliveryRecord&) override {
      co_return;
    }
    boost::asio::awaitable<void> ended(const std::string&, const JobResult&) override { co_return; }
    boost::asio::awaitable<void> batch_ended(const std::string&) override { co_return; }
  } ledger;
  boost::asio::io_context io;
  Config config;
  config.limits.max_active_jobs = static_cast<std::uint32_t>(jobs);
  config.log.level = LogLevel::error;
  Logger log(config.log);
  // A benchmark measures the real thing: the real clock and random source, as the daemon wires them.
  TokenSource tokens(io.get_executor(), transport, {}, "app", "key", std::chrono::hours(23), real_time());
  Exporter exporter(io.get_executor(), config, transport, tokens, ledger, log, RunMode::batch, real_time(),
                    default_unit_random());
  const auto before = mallinfo2().uordblks;
  std::vector<JobSpec> specs;
  char id[32];
  for (int i = 0; i < jobs; ++i) {
    std::snprintf(id, sizeof id, "65fa6b07dca2e3674%07d", i);  // a real-length 24-char project id
    JobSpec s;
    s.project_id = id;
    s.key = std::string("nightly-queue.yaml#") + id;
    s.resolution = "1080";
    specs.push_back(std::move(s));
  }
  exporter.add_batch("20261124T000000Z-0001-nightly-queue.yaml", std::move(specs));
  return static_cast<double>(mallinfo2().uordblks - before) / jobs;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("exportd-bench");
  o.add_options()("help", "this help")("jobs", po::value<int>()->default_value(10000), "jobs in the measured run")(
      "baseline-jobs", po::value<int>()->default_value(1000), "jobs in the run used for the memory slope; 0 = skip")(
      "export-ms", po::value<long>()->default_value(3000), "how long each export takes on the simulator")(
      "first-poll", po::value<std::string>()->default_value("1s"), "polling.first_poll_after")(
      "min-interval", po::value<std::string>()->default_value("500ms"), "polling.min_interval")(
      "max-interval", po::value<std::string>()->default_value("10s"), "polling.max_interval")(
      "rps", po::value<int>()->default_value(0), "limits.requests_per_second (0 = unlimited)")(
      "connections", po::value<int>()->default_value(8), "limits.max_connections");
  po::variables_map vm;
  if (const auto exit = testing::parse_bench_options(argc, argv, o, vm)) return *exit;
  const int n = vm["jobs"].as<int>();
  std::printf("exportd-bench: %d jobs, %ld ms exports, first poll %s, interval %s..%s, rps %d, %d connections\n", n,
              vm["export-ms"].as<long>(), vm["first-poll"].as<std::string>().c_str(),
              vm["min-interval"].as<std::string>().c_str(), vm["max-interval"].as<std::string>().c_str(),
              vm["rps"].as<int>(), vm["connections"].as<int>());
  const Figures f = run_batch(n, vm);
  const auto& s = f.stats;
  std::printf("  exit code            %d%s\n", f.run.exit_code, f.run.timed_out ? " (timed out)" : "");
  std::printf("  succeeded            %d / %d\n", f.succeeded, n);
  std::printf("  wall time            %.2f s\n", f.run.wall_seconds);
  std::printf("  exportd CPU          %.2f s (%.1f us per job)\n", f.run.cpu_seconds, f.run.cpu_seconds * 1e6 / n);
  std::printf("  exportd peak RSS     %.1f MiB\n", static_cast<double>(f.run.max_rss_kib) / 1024.0);
  std::printf("  API calls            %llu (%.2f per job): %llu export, %llu progress, %llu token\n",
              static_cast<unsigned long long>(s.requests), static_cast<double>(s.requests) / n,
              static_cast<unsigned long long>(s.export_requests), static_cast<unsigned long long>(s.progress_requests),
              static_cast<unsigned long long>(s.token_requests));
  std::printf("  duplicate exports    %llu\n", static_cast<unsigned long long>(s.duplicate_exports));
  std::printf("  completion lag       p50 %.0f ms, p95 %.0f ms, max %.0f ms (sim 100%% -> exportd records it)\n",
              percentile(f.lag_ms, 0.5), percentile(f.lag_ms, 0.95), percentile(f.lag_ms, 1.0));
  const int base = vm["baseline-jobs"].as<int>();
  if (base > 0 && base < n) {
    const Figures b = run_batch(base, vm);
    const double slope = static_cast<double>(f.run.max_rss_kib - b.run.max_rss_kib) * 1024.0 / (n - base);
    std::printf("  RSS slope per job    %.0f bytes (peak RSS %.1f MiB at %d jobs vs %.1f MiB at %d jobs)\n", slope,
                static_cast<double>(f.run.max_rss_kib) / 1024.0, n, static_cast<double>(b.run.max_rss_kib) / 1024.0,
                base);
  }
  std::printf("  heap per job         %.0f bytes (in-process, 100000 jobs accepted, mallinfo2)\n",
              heap_bytes_per_job(100000));
  if (f.run.exit_code != 0) std::fprintf(stderr, "%s\n", f.run.err.substr(0, 4000).c_str());
  return f.succeeded == n ? 0 : 1;
}
