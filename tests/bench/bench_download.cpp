// exportd-bench-download: how fast exportd downloads videos over loopback,
// against `curl -o` fetching the same sizes from the same simulator in the
// same invocation, and against `curl -o f && sha256sum f` (the time to a
// verified file, which is what exportd delivers), and how much memory a
// download costs exportd (SPEC §10).
//
// For each count of videos at once (--parallel 1,8): exportd runs a batch of
// that many jobs whose videos are --mib MiB (download.max_concurrent = that
// count), then the same count of curls fetch videos of the same size at
// once. A rate is the bytes over the time from the first video request to the
// last byte the simulator wrote, for both. exportd's RSS growth is its peak
// RSS in that run less its peak RSS in the same batch with 1 KiB videos.
// Every file exportd wrote is checked against the simulator's SHA-256.
// Beside each rate, the CPU time per GiB of the downloader (exportd's, or the
// curls') and of the simulator serving it (this process, which does nothing
// else meanwhile): on a machine with few cores, the two share them. Before
// each row, as many bytes as a run writes are written and deleted unmeasured
// (warm_up), so no peer pays for the others' first touch of memory.
//
//   exportd-bench-download [--mib 1024] [--parallel 1,8]
//
// With --batch N: one run of N jobs whose videos are --min-mib..--max-mib,
// through faults (--cut, --expired, --ignore-range shares), checking every
// file against the simulator's SHA-256, that no .part is left, and the bytes
// sent against the videos' total.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include "bench_cli.hpp"

#include "ops/digest.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "videos.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace exportd;
using namespace std::chrono_literals;

namespace {

struct Phase {
  double seconds = 0;  // first request to last byte
  std::uint64_t bytes = 0;
  long peak_rss_kib = 0;
  double cpu_seconds = 0;      // the downloader's user + system time
  double sim_cpu_seconds = 0;  // the simulator's (this process's) meanwhile
  bool ok = true;
  std::string why;
  double rate_mib() const { return seconds > 0 ? static_cast<double>(bytes) / (1 << 20) / seconds : 0; }
  double per_gib(double cpu) const { return bytes > 0 ? cpu / (static_cast<double>(bytes) / (1 << 30)) : 0; }
};

// User + system time of this process so far (the simulator's threads, here).
double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

sim::Knobs knobs(std::uint64_t size) {
  sim::Knobs k;
  k.export_min = std::chrono::milliseconds(0);
  k.export_max = std::chrono::milliseconds(0);
  k.serve_videos = true;
  k.video_min_bytes = size;
  k.video_max_bytes = size;
  return k;
}

Phase run_exportd(int count, std::uint64_t size, bool verify) {
  sim::Simulator s(knobs(size));
  testing::Workspace ws("bench-download");
  ws.write_config(s.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 0\npolling:\n  first_poll_after: 100ms\n  min_interval: 100ms\n"
                  "download:\n  dir: " + ws.path("videos") + "\n  max_concurrent: " + std::to_string(count) + "\n");
  ws.write_export_jobs("jobs.yaml", count);
  const auto cpu_before = own_cpu_seconds();
  const auto r = testing::run_process(
      {testing::exportd_binary(), "run", "-c", ws.path("config.yaml"), "--once", "--queue", ws.path("jobs.yaml")},
      std::chrono::minutes(30));
  const auto stats = s.stats();
  Phase p;
  p.sim_cpu_seconds = own_cpu_seconds() - cpu_before;
  p.cpu_seconds = r.cpu_seconds;
  p.peak_rss_kib = r.max_rss_kib;
  p.bytes = stats.video_bytes_sent;
  p.seconds = static_cast<double>(stats.video_last_byte_ms - stats.video_first_request_ms) / 1000.0;
  if (r.exit_code != 0) {
    p.ok = false;
    p.why = "exportd exited " + std::to_string(r.exit_code) + ": " + r.err.substr(0, 500);
    return p;
  }
  for (const auto& res : ws.results()) {
    const std::string id(res.at("project_id").as_string());
    if (res.at("status").as_string() != "succeeded" || !res.contains("sha256")) {
      p.ok = false;
      p.why = id + " did not succeed";
    } else if (verify && res.at("sha256").as_string() != sim::video_sha256(id, size)) {
      p.ok = false;
      p.why = id + ": SHA-256 differs from the simulator's";
    }
  }
  return p;
}

std::int64_t wall_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `count` curls at once, each `curl -o f`, and with `then_sha256sum` each
// followed by `sha256sum f` (what a user who wants a verified file runs):
// the time then runs from the first request to the last checksum printed,
// and each checksum is compared with the simulator's.
Phase run_curl(int count, std::uint64_t size, bool then_sha256sum) {
  sim::Simulator s(knobs(size));
  testing::Workspace ws("bench-download-curl");
  std::vector<std::string> links, ids;
  for (int i = 0; i < count; ++i) {
    ids.push_back("c" + std::to_string(i));
    links.push_back(s.finished_video(ids.back(), size));
  }
  std::vector<std::thread> threads;
  std::vector<std::vector<testing::ProcessResult>> ran(static_cast<std::size_t>(count));  // per curl: curl, sha256sum
  std::vector<std::int64_t> verified_ms(static_cast<std::size_t>(count), 0);
  const auto cpu_before = own_cpu_seconds();
  for (int i = 0; i < count; ++i)
    threads.emplace_back([&, i] {
      const auto at = static_cast<std::size_t>(i);
      const auto file = ws.path(ids[at] + ".mp4");
      auto& mine = ran[at];
      mine.push_back(testing::run_process({"/usr/bin/curl", "-sS", "-o", file, links[at]}, std::chrono::minutes(30)));
      if (!then_sha256sum || mine.back().exit_code != 0) return;
      mine.push_back(testing::run_process({"/usr/bin/sha256sum", file}, std::chrono::minutes(30)));
      verified_ms[at] = wall_ms_now();
      if (mine.back().out.substr(0, 64) != sim::video_sha256(ids[at], size)) {
        mine.back().exit_code = 1;
        mine.back().err = "sha256sum printed another digest than the simulator's";
      }
    });
  for (auto& t : threads) t.join();
  const auto stats = s.stats();
  Phase p;
  p.sim_cpu_seconds = own_cpu_seconds() - cpu_before;
  p.bytes = stats.video_bytes_sent;
  const auto end_ms = then_sha256sum ? *std::max_element(verified_ms.begin(), verified_ms.end())
                                     : stats.video_last_byte_ms;
  p.seconds = static_cast<double>(end_ms - stats.video_first_request_ms) / 1000.0;
  for (const auto& mine : ran)
    for (const auto& r : mine) {
      p.cpu_seconds += r.cpu_seconds;
      if (r.exit_code != 0) {
        p.ok = false;
        p.why = "curl or sha256sum: " + r.err;
      }
    }
  return p;
}

// CPU seconds SHA-256 (SPEC §10: every file is hashed) takes per GiB on its
// own, in memory: what exportd must spend on top of what curl -o does.
// Writes and deletes `bytes` in the temp folder, unmeasured, before a row's
// runs. On a virtual machine the first write to memory the guest has not
// touched yet costs page faults in the host, charged to whoever writes it:
// without this, the first peer of a row (exportd) paid for fresh memory
// that the next (curl) then reused (eight 1 GiB downloads: 2.2 CPU s/GiB
// for exportd's first run, 1.7 for the same run repeated at once).
void warm_up(std::uint64_t bytes) {
  testing::Workspace ws("bench-download-warm-up");
  std::vector<char> block(1 << 20, 'w');
  std::FILE* f = std::fopen(ws.path("warm").c_str(), "wb");
  if (f == nullptr) return;
  for (std::uint64_t done = 0; done < bytes; done += block.size()) std::fwrite(block.data(), 1, block.size(), f);
  std::fclose(f);
}

double sha256_seconds_per_gib() {
  std::vector<char> block(256 * 1024, 'x');
  Sha256 hash;
  const auto before = own_cpu_seconds();
  for (int i = 0; i < 4096; ++i) hash.update(block.data(), block.size());
  return own_cpu_seconds() - before;
}

}  // namespace

// One batch through faults; prints what it checked. True when all held.
bool run_fault_batch(int jobs, std::uint64_t min_bytes, std::uint64_t max_bytes, double cut, double expired,
                     double ignore_range) {
  auto k = knobs(min_bytes);
  k.video_max_bytes = max_bytes;
  k.video_cut = cut;
  k.link_expired = expired;
  k.video_ignore_range = ignore_range;
  k.export_min = std::chrono::milliseconds(1000);
  k.export_max = std::chrono::milliseconds(3000);
  sim::Simulator s(k);
  testing::Workspace ws("bench-download-faults");
  ws.write_config(s.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 0\npolling:\n  first_poll_after: 1s\n  min_interval: 250ms\n"
                  "retry:\n  initial_backoff: 100ms\n  max_backoff: 2s\n"
                  "download:\n  dir: " + ws.path("videos") + "\n");
  ws.write_export_jobs("jobs.yaml", jobs);
  const auto r = testing::run_process(
      {testing::exportd_binary(), "run", "-c", ws.path("config.yaml"), "--once", "--queue", ws.path("jobs.yaml")},
      std::chrono::minutes(60));
  const auto stats = s.stats();
  std::uint64_t total = 0;
  for (const auto& [id, size] : stats.video_sizes) total += size;
  int whole = 0, with_fields = 0;
  for (const auto& res : ws.results()) {
    const std::string id(res.at("project_id").as_string());
    if (res.contains("file") && res.contains("bytes") && res.contains("sha256")) ++with_fields;
    else continue;
    const auto size = stats.video_sizes.at(id);
    std::error_code ec;
    if (fs::file_size(std::string(res.at("file").as_string()), ec) == size && !ec &&
        res.at("sha256").as_string() == sim::video_sha256(id, size))
      ++whole;
  }
  int parts = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(ws.path("videos"), ec)) parts += e.path().extension() == ".part";
  const double ratio = static_cast<double>(stats.video_bytes_sent) / static_cast<double>(std::max<std::uint64_t>(1, total));
  std::printf("batch: %d jobs, videos %.0f-%.0f MiB (%.1f MiB in all), exit %d, %.1f s\n", jobs,
              static_cast<double>(min_bytes) / (1 << 20), static_cast<double>(max_bytes) / (1 << 20),
              static_cast<double>(total) / (1 << 20), r.exit_code, r.wall_seconds);
  std::printf("  faults: %llu replies cut, %llu links refused, %llu ranges ignored\n",
              static_cast<unsigned long long>(stats.video_cut), static_cast<unsigned long long>(stats.links_refused),
              static_cast<unsigned long long>(stats.video_ignored_ranges));
  std::printf("  results with file, bytes, sha256: %d of %d; files whole with the simulator's SHA-256: %d\n",
              with_fields, jobs, whole);
  std::printf("  .part files left: %d; bytes sent %.1f MiB = %.2fx the videos\n", parts,
              static_cast<double>(stats.video_bytes_sent) / (1 << 20), ratio);
  return r.exit_code == 0 && whole == jobs && with_fields == jobs && parts == 0;
}

int main(int argc, char** argv) {
  po::options_description opts("exportd-bench-download");
  opts.add_options()("mib", po::value<std::uint64_t>()->default_value(1024), "video size, MiB")(
      "parallel", po::value<std::string>()->default_value("1,8"), "videos at once, comma-separated")(
      "no-verify", "skip checking each file's SHA-256")("batch", po::value<int>()->default_value(0),
                                                          "one run of this many jobs through faults instead")(
      "min-mib", po::value<std::uint64_t>()->default_value(5), "--batch: smallest video, MiB")(
      "max-mib", po::value<std::uint64_t>()->default_value(50), "--batch: largest video, MiB")(
      "cut", po::value<double>()->default_value(0.1), "--batch: share of video replies cut")(
      "expired", po::value<double>()->default_value(0.1), "--batch: share of links refused")(
      "ignore-range", po::value<double>()->default_value(0.05), "--batch: share of ranges ignored");
  po::variables_map vm;
  if (const auto exit = testing::parse_bench_options(argc, argv, opts, vm)) return *exit;
  if (const int jobs = vm["batch"].as<int>(); jobs > 0)
    return run_fault_batch(jobs, vm["min-mib"].as<std::uint64_t>() << 20, vm["max-mib"].as<std::uint64_t>() << 20,
                           vm["cut"].as<double>(), vm["expired"].as<double>(), vm["ignore-range"].as<double>())
               ? 0
               : 1;
  const auto size = vm["mib"].as<std::uint64_t>() << 20;
  const bool verify = vm.count("no-verify") == 0;
  std::vector<int> counts;
  std::stringstream list(vm["parallel"].as<std::string>());
  for (std::string item; std::getline(list, item, ',');) counts.push_back(std::stoi(item));

  bool all_ok = true;
  std::printf("SHA-256 alone: %.2f CPU s/GiB\n", sha256_seconds_per_gib());
  std::printf("%-8s %-9s %-13s %-11s %-6s %-17s %-6s %-11s %-22s %-22s %s\n", "at once", "size", "exportd MiB/s",
              "curl MiB/s", "ratio", "curl+sha256sum", "ratio", "RSS growth", "CPU s/GiB exportd+sim",
              "CPU s/GiB curl+sim", "files");
  for (const int n : counts) {
    warm_up(static_cast<std::uint64_t>(n) * size);
    const auto small = run_exportd(n, 1024, false);
    const auto big = run_exportd(n, size, verify);
    const auto curl = run_curl(n, size, false);
    const auto checked = run_curl(n, size, true);
    const double growth_mib = static_cast<double>(big.peak_rss_kib - small.peak_rss_kib) / 1024.0;
    const bool ok = big.ok && curl.ok && checked.ok && small.ok;
    all_ok = all_ok && ok;
    char exportd_cpu[32], curl_cpu[32];
    std::snprintf(exportd_cpu, sizeof exportd_cpu, "%.2f + %.2f", big.per_gib(big.cpu_seconds),
                  big.per_gib(big.sim_cpu_seconds));
    std::snprintf(curl_cpu, sizeof curl_cpu, "%.2f + %.2f", curl.per_gib(curl.cpu_seconds),
                  curl.per_gib(curl.sim_cpu_seconds));
    const auto ratio = [&](const Phase& peer) { return peer.rate_mib() > 0 ? big.rate_mib() / peer.rate_mib() : 0.0; };
    std::printf("%-8d %-9s %-13.1f %-11.1f %-6.2f %-17.1f %-6.2f %-11s %-22s %-22s %s\n", n,
                (std::to_string(size >> 20) + " MiB").c_str(), big.rate_mib(), curl.rate_mib(), ratio(curl),
                checked.rate_mib(), ratio(checked),
                (std::to_string(static_cast<long>(growth_mib * 10) / 10.0).substr(0, 5) + " MiB").c_str(), exportd_cpu,
                curl_cpu,
                ok ? (verify ? "whole, SHA-256 checked" : "whole")
                   : (big.why + curl.why + checked.why + small.why).c_str());
    std::fflush(stdout);
  }
  return all_ok ? 0 : 1;
}
