// exportd with download.dir set, against the simulator's video host over
// loopback (SPEC §10): every job's video lands whole and verified under its
// name, through cut connections, dead links, ignored ranges and a kill -9.
// Every exportd run is bounded by its own timeout.

#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include <signal.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "videos.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::run_once;
using testing::Workspace;
using Millis = std::chrono::milliseconds;

std::string config_for(const Workspace& ws, int max_concurrent = 4) {
  return R"(limits:
  requests_per_second: 0
polling:
  first_poll_after: 500ms
  min_interval: 250ms
  max_interval: 2s
retry:
  initial_backoff: 50ms
  max_backoff: 500ms
download:
  dir: )" +
         ws.path("videos") + "\n  max_concurrent: " + std::to_string(max_concurrent) + "\n";
}

sim::Knobs video_knobs(std::uint64_t min_bytes, std::uint64_t max_bytes) {
  sim::Knobs k;
  k.export_min = 500ms;
  k.export_max = 1500ms;
  k.serve_videos = true;
  k.video_min_bytes = min_bytes;
  k.video_max_bytes = max_bytes;
  return k;
}

// Files under `dir` whose name ends in .part.
std::vector<std::string> part_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.path().extension() == ".part") out.push_back(e.path().string());
  return out;
}

// Every result succeeded with its video whole: the simulator's length and SHA-256.
void expect_every_video_whole(const Workspace& ws, const sim::Stats& stats, std::size_t jobs) {
  const auto results = ws.results();
  ASSERT_EQ(results.size(), jobs);
  for (const auto& r : results) {
    ASSERT_EQ(r.at("status").as_string(), "succeeded") << boost::json::serialize(r);
    const std::string id(r.at("project_id").as_string());
    const std::string file(r.at("file").as_string());
    const auto size = stats.video_sizes.at(id);
    EXPECT_EQ(file, ws.path("videos/jobs/" + id + ".mp4"));
    EXPECT_EQ(r.at("bytes").as_int64(), static_cast<std::int64_t>(size));
    const auto sha = sim::video_sha256(id, size);
    EXPECT_EQ(r.at("sha256").as_string(), sha) << id;
    ASSERT_TRUE(fs::exists(file)) << file;
    EXPECT_EQ(fs::file_size(file), size) << file;
  }
  EXPECT_TRUE(part_files(ws.path("videos")).empty());
}

TEST(DownloadRun, CutsDeadLinksAndIgnoredRangesLeaveEveryFileWholeAndVerified) {
  auto k = video_knobs(1 << 20, 4 << 20);
  // Shares high enough that 40 jobs meet each fault whatever order their
  // requests come in (the simulator's draws follow that order).
  k.video_cut = 0.25;
  k.link_expired = 0.25;
  k.video_ignore_range = 0.1;
  k.seed = 11;
  sim::Simulator sim(k);
  Workspace ws("download-faults");
  ws.write_config(sim.port(), false, "demo-key", config_for(ws));
  ws.write_export_jobs("jobs.yaml", 40);
  auto r = run_once(ws, 120s, {"--queue", ws.path("jobs.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto stats = sim.stats();
  expect_every_video_whole(ws, stats, 40);
  std::uint64_t total = 0;
  for (const auto& [id, size] : stats.video_sizes) total += size;
  EXPECT_GT(stats.video_cut, 0u);
  EXPECT_GT(stats.links_refused, 0u);
  EXPECT_LE(static_cast<double>(stats.video_bytes_sent), 1.3 * static_cast<double>(total));
  EXPECT_EQ(stats.duplicate_exports, 0u);
}

TEST(DownloadRun, AKilledDaemonResumesItsDownloadsAndNoFinalNameIsEverIncomplete) {
  auto k = video_knobs(6 << 20, 8 << 20);
  k.video_rate = 4 << 20;  // about 2 s per video: kills land mid-download
  k.seed = 12;
  sim::Simulator sim(k);
  Workspace ws("download-kill");
  ws.write_config(sim.port(), false, "demo-key", config_for(ws, 4));
  ws.write_export_jobs("jobs.yaml", 12);
  const auto argv = testing::run_argv(ws, {"--queue", ws.path("jobs.yaml")});
  std::mt19937_64 rng(3);
  for (int kill = 0; kill < 3; ++kill) {
    testing::ChildProcess daemon(argv);
    // Wait for bytes on disk, then a little more, then kill -9 (unless all is done already).
    ASSERT_TRUE(testing::wait_until(
        [&] { return !part_files(ws.path("videos")).empty() || testing::result_lines(ws) == 12; }, 60s))
        << daemon.err_so_far();
    std::this_thread::sleep_for(Millis(200 + rng() % 800));
    daemon.signal(SIGKILL);
    daemon.wait(10s);
    // Whatever is under a final name is whole.
    const auto stats = sim.stats();
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(ws.path("videos"), ec)) {
      if (!e.is_regular_file() || e.path().extension() != ".mp4") continue;
      const auto id = e.path().stem().string();
      EXPECT_EQ(e.file_size(), stats.video_sizes.at(id)) << e.path();
    }
  }
  testing::ChildProcess daemon(argv);
  ASSERT_TRUE(testing::wait_until([&] { return testing::result_lines(ws) == 12; }, 120s)) << daemon.err_so_far();
  daemon.signal(SIGTERM);
  daemon.wait(30s);
  const auto stats = sim.stats();
  expect_every_video_whole(ws, stats, 12);
  std::uint64_t total = 0;
  for (const auto& [id, size] : stats.video_sizes) total += size;
  EXPECT_LE(static_cast<double>(stats.video_bytes_sent), 1.5 * static_cast<double>(total));
  EXPECT_EQ(stats.duplicate_exports, 0u);
}

TEST(DownloadRun, SigtermMidDownloadStopsCleanlyAndTheNextStartFinishesTheFiles) {
  auto k = video_knobs(32 << 20, 32 << 20);
  k.video_rate = 4 << 20;  // 8 s per video: SIGTERM lands mid-body, past the 3 s grace
  sim::Simulator sim(k);
  Workspace ws("download-sigterm");
  ws.write_config(sim.port(), false, "demo-key", config_for(ws, 4));
  ws.write_export_jobs("jobs.yaml", 4);
  const auto argv = testing::run_argv(ws, {"--queue", ws.path("jobs.yaml")});
  {
    testing::ChildProcess daemon(argv);
    ASSERT_TRUE(testing::wait_until([&] { return part_files(ws.path("videos")).size() == 4; }, 60s))
        << daemon.err_so_far();
    std::this_thread::sleep_for(500ms);
    daemon.signal(SIGTERM);
    // The download threads are stopped before the run is torn down (under
    // TSan a write into a freed download would end the process here).
    const auto r = daemon.wait(30s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(testing::result_lines(ws), 0u);
  }
  testing::ChildProcess daemon(argv);
  ASSERT_TRUE(testing::wait_until([&] { return testing::result_lines(ws) == 4; }, 120s)) << daemon.err_so_far();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
  expect_every_video_whole(ws, sim.stats(), 4);
}

// download.dir on an 8 MiB tmpfs, mounted in a user and mount namespace of
// the daemon's own (no root needed), 7 MiB of it taken (less is left than
// any one video needs): the downloads pause,
// say so, and go on once the space is freed; nothing is lost or left half.
TEST(DownloadRun, AFullDiskPausesDownloadsWithAClearStatusUntilSpaceIsFreed) {
  if (testing::run_process({"/usr/bin/unshare", "-rm", "true"}, 10s).exit_code != 0)
    GTEST_SKIP() << "unprivileged user namespaces are off here: cannot mount a small tmpfs";
  auto k = video_knobs(1536 * 1024, 1536 * 1024);
  sim::Simulator sim(k);
  Workspace ws("download-full");
  ws.write_config(sim.port(), false, "demo-key", config_for(ws, 4));
  ws.write_export_jobs("jobs.yaml", 4);
  const auto videos = ws.path("videos");
  fs::create_directories(videos);
  auto argv = testing::run_argv(ws, {"--queue", ws.path("jobs.yaml")});
  std::string command =
      "mount -t tmpfs -o size=8m tmpfs '" + videos + "' && head -c 7340032 /dev/zero > '" + videos + "/filler' && exec";
  for (const auto& a : argv) command += " '" + a + "'";
  testing::ChildProcess daemon({"/usr/bin/unshare", "-rm", "/bin/sh", "-c", command});
  // The daemon's view of its tmpfs.
  const auto inside = "/proc/" + std::to_string(daemon.pid()) + "/root" + videos;
  const auto paused = [&] {
    boost::system::error_code ec;
    const auto status = boost::json::parse(Workspace::read(ws.path("state/status.json")), ec);
    if (ec || !status.is_object()) return false;
    const auto* d = status.as_object().if_contains("downloads");
    return d != nullptr && d->as_object().at("paused_disk_full").to_number<std::int64_t>() > 0;
  };
  ASSERT_TRUE(testing::wait_until(paused, 60s)) << daemon.err_so_far();
  EXPECT_NE(daemon.err_so_far().find("download_paused"), std::string::npos);
  auto status = testing::run_process({testing::exportd_binary(), "status", "-c", ws.path("config.yaml")}, 30s);
  EXPECT_NE(status.out.find("paused: download.dir is full"), std::string::npos) << status.out;
  EXPECT_TRUE(ws.results().empty());
  // Free the space: they go on and finish.
  ASSERT_TRUE(fs::remove(inside + "/filler"));
  ASSERT_TRUE(testing::wait_until([&] { return testing::result_lines(ws) == 4; }, 60s)) << daemon.err_so_far();
  const auto stats = sim.stats();
  for (const auto& r : ws.results()) {
    ASSERT_EQ(r.at("status").as_string(), "succeeded") << boost::json::serialize(r);
    const std::string id(r.at("project_id").as_string());
    const std::string file(r.at("file").as_string());
    EXPECT_EQ(fs::file_size(inside + file.substr(videos.size())), stats.video_sizes.at(id));
    EXPECT_EQ(r.at("sha256").as_string(), sim::video_sha256(id, stats.video_sizes.at(id)));
  }
  EXPECT_TRUE(part_files(inside).empty());
  daemon.signal(SIGTERM);
  daemon.wait(30s);
}

TEST(DownloadRun, HostileLinksAreRefusedAndNothingIsWrittenOrFetched) {
  auto k = video_knobs(1000, 1000);
  sim::Simulator sim(k);
  Workspace ws("download-hostile");
  ws.write_config(sim.port(), false, "demo-key", config_for(ws));
  ws.write_export_jobs("jobs.yaml", 1);
  // The API's reply itself is refused (the download layer refuses these too:
  // Download.ARefusedLink...): the job fails, nothing is fetched or written.
  std::size_t runs = 0;
  for (const auto* link : {"file:///etc/passwd", "http://198.51.100.7/v.mp4", "https://user:pw@127.0.0.1/v.mp4"}) {
    k.download_url = link;
    sim.set_knobs(k);
    auto r = run_once(ws, 60s, {"--queue", ws.path("jobs.yaml"), "--fresh"});
    EXPECT_NE(r.exit_code, 0) << link << r.err;
    const auto results = ws.results();
    ASSERT_EQ(results.size(), ++runs);
    EXPECT_EQ(results.back().at("status").as_string(), "failed") << link;
    EXPECT_FALSE(results.back().contains("file")) << link;
  }
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(ws.path("videos/jobs")) || fs::is_empty(ws.path("videos/jobs"), ec));
  EXPECT_EQ(sim.stats().video_requests, 0u);
}

}  // namespace
}  // namespace exportd
