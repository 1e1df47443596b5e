// exportd-kill-soak: the crash-safety soak (not part of CI). Drops N jobs as
// files into the spool, SIGKILLs the daemon at K random moments, restarting
// it each time, and checks that every job ended exactly once and that the
// simulator saw no project exported twice.
//
// With --video-mib-max, every job's video is downloaded too (download.dir):
// after each kill, every file under its final name is checked whole, and at
// the end every file's SHA-256 against the simulator's, no .part left, and
// the bytes sent within 1.5 times the videos' total.
//
// With --creates, every job creates its project from a scenes file (the
// create call, which is not idempotent): the verdict asks for exactly one
// project per job, counted by the simulator per exportd tag. --list-page
// pages the project list (the lookups of in-doubt creates read it page by
// page), --list-refused-ms refuses it for that long every ten seconds, and
// --create-garbled answers that share of creates with a lost or garbled reply.
//
//   exportd-kill-soak [--jobs 2000] [--files 40] [--kills 30] [--seed N]
//                     [--video-mib-min 1 --video-mib-max 0] [--video-rate-mib 0]
//                     [--creates [--list-page 50] [--list-refused-ms 0] [--create-garbled 0]]

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>
#include <map>
#include <random>

#include <fstream>
#include <set>
#include <boost/program_options.hpp>

#include "bench_cli.hpp"

#include "measure.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "videos.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
using namespace exportd;
using Millis = std::chrono::milliseconds;

int main(int argc, char** argv) {
  po::options_description o("exportd-kill-soak");
  o.add_options()("help", "this help")("jobs", po::value<int>()->default_value(2000), "jobs in all")(
      "files", po::value<int>()->default_value(40), "job files they are dropped as")(
      "kills", po::value<int>()->default_value(30), "SIGKILLs")(
      "seed", po::value<std::uint64_t>()->default_value(std::random_device{}()), "random seed for the kill moments")(
      "video-mib-min", po::value<std::uint64_t>()->default_value(1), "smallest video, MiB")(
      "video-mib-max", po::value<std::uint64_t>()->default_value(0), "largest video, MiB (0: no downloads)")(
      "video-rate-mib", po::value<std::uint64_t>()->default_value(0), "bytes per second per video reply, MiB (0: no cap)")(
      "no-416", "the simulator answers a range from a video's end with 200 and the whole video, not 416")(
      "damage", "after each kill, 4 KiB of every NAME.part (and of any video not yet in the results) zeroed at a "
                "random place, as a machine crash or a disk error may leave them")(
      "creates", "create jobs (a project from a scenes file each), not exports of existing projects")(
      "deliver", "with videos: each is handed on by rclone (from the distribution) to a local remote (SPEC §13), "
                 "through a wrapper that logs each run's start and end")(
      "template", "with --creates: each file is one template job over a CSV of its rows (SPEC §12), not a "
                  "scenes_file job per project")(
      "list-page", po::value<std::size_t>()->default_value(50), "with --creates: the project list in pages of this size (0: one page)")(
      "list-refused-ms", po::value<int>()->default_value(0), "with --creates: the list refused (404) this long every 10 s")(
      "create-garbled", po::value<double>()->default_value(0), "with --creates: share of creates whose reply is lost or garbled");
  po::variables_map vm;
  if (const auto exit = testing::parse_bench_options(argc, argv, o, vm)) return *exit;
  const int jobs = vm["jobs"].as<int>(), files = vm["files"].as<int>(), kills = vm["kills"].as<int>();
  sim::Knobs k;
  k.export_min = Millis(4000);
  k.export_max = Millis(12000);
  k.latency = Millis(10);
  const bool videos = vm["video-mib-max"].as<std::uint64_t>() > 0;
  if (videos) {
    k.serve_videos = true;
    k.video_min_bytes = vm["video-mib-min"].as<std::uint64_t>() << 20;
    k.video_max_bytes = std::max(k.video_min_bytes, vm["video-mib-max"].as<std::uint64_t>() << 20);
    k.video_rate = vm["video-rate-mib"].as<std::uint64_t>() << 20;
    k.range_at_end_416 = !vm.count("no-416");
  }
  const bool creates = vm.count("creates") > 0;
  if (creates) {
    k.list_page = vm["list-page"].as<std::size_t>();
    k.list_paged = k.list_page > 0;
    k.create_garbled = vm["create-garbled"].as<double>();
  }
  const bool deliver = vm.count("deliver") > 0 && videos;
  sim::Simulator sim(k);
  testing::Workspace ws("kill-soak");
  if (deliver) {
    // rclone to a local remote, each run's start and end logged with the delivery id (one write each: O_APPEND).
    ws.write("rclone.conf", "[archive]\ntype = local\n");
    ws.write("deliver.sh", "#!/bin/sh\n"
                           "log=" + ws.path("deliveries.log") + "\n"
                           "echo \"start $(date +%s%3N) $EXPORTD_DELIVERY_ID\" >> \"$log\"\n"
                           "RCLONE_CONFIG=" + ws.path("rclone.conf") + " rclone copyto \"$1\" \"archive:" +
                           ws.path("remote") + "/$2\" || exit $?\n"
                           "echo \"done $(date +%s%3N) $EXPORTD_DELIVERY_ID\" >> \"$log\"\n");
    std::filesystem::permissions(ws.path("deliver.sh"), std::filesystem::perms::owner_all);
  }
  ws.write("user_key", "demo-key\n");
  ws.write("config.yaml", "api:\n  base_url: http://127.0.0.1:" + std::to_string(sim.port()) +
                              "\n  app_id: demo-app\n  user_key_file: user_key\nstate_dir: state\n"
                              "limits:\n  max_active_jobs: 300\n  requests_per_second: 0\n"
                              "polling:\n  first_poll_after: 1s\n  min_interval: 250ms\n  max_interval: 3s\n" +
                              (videos ? "download:\n  dir: videos\n  max_concurrent: 8\n" : "") +
                              (creates ? "jobs:\n  scenes_root: scenes\n" : "") +
                              (deliver ? "deliver:\n  command: [\"" + ws.path("deliver.sh") +
                                             "\", \"{file_path}\", \"{file}/{id}.mp4\"]\n  max_concurrent: 4\n"
                                             "  timeout: 60s\n"
                                       : ""));
  const int per_file = jobs / files;
  ws.write("scenes/welcome.json", R"([{"sceneIdx":0,"background":{},"clips":[{"id":"m","type":"aiModel","height":2229,"width":679,"left":630,"top":146,"layer":1,"script":{"org":"Hello"}}]}])");
  ws.write("scenes/template.json", R"([{"sceneIdx":0,"background":{},"clips":[{"id":"m","type":"aiModel","height":2229,"width":679,"left":630,"top":146,"layer":1,"script":{"org":"Hello, {{first_name}}"}}]}])");
  const bool templates = vm.count("template") > 0;
  for (int f = 0; f < files; ++f) {
    const auto name = "soak" + std::to_string(f) + ".yaml";
    if (creates && templates) {
      // One template job per file over its own rows, names with '&', quotes and non-ASCII letters.
      std::string rows = "customer_id,first_name\r\n";
      for (int i = f * per_file; i < (f + 1) * per_file; ++i)
        rows += "c" + std::to_string(i) + ",\"Zoë \"\"" + std::to_string(i) + "\"\" & Ñ\"\r\n";
      ws.write("scenes/rows" + std::to_string(f) + ".csv", rows);
      testing::drop_text(ws, name,
                         "jobs:\n  - template: " + ws.path("scenes/template.json") + "\n    rows: " +
                             ws.path("scenes/rows" + std::to_string(f) + ".csv") +
                             "\n    id: \"{{customer_id}}\"\n    name: \"Soak {{first_name}}\"\n");
    } else if (creates)
      testing::drop_create_file(ws, name, f * per_file, per_file, ws.path("scenes/welcome.json"));
    else
      testing::drop_job_file(ws, name, f * per_file, per_file, "s");
  }
  // The list refused for a while, again and again.
  std::atomic<bool> soaking{true};
  std::thread refuser;
  int refusals = 0;
  if (const int refused_ms = vm["list-refused-ms"].as<int>(); creates && refused_ms > 0) {
    refuser = std::thread([&, refused_ms] {
      auto knobs = k;
      while (soaking) {
        for (int i = 0; i < 100 && soaking; ++i) std::this_thread::sleep_for(Millis(100));
        knobs.list_refused = true;
        sim.set_knobs(knobs);
        ++refusals;
        std::this_thread::sleep_for(Millis(refused_ms));
        knobs.list_refused = false;
        sim.set_knobs(knobs);
      }
    });
  }
  const auto total = static_cast<std::size_t>(per_file * files);
  // After each kill: whatever is under a final name is whole.
  int incomplete_at_kills = 0;
  const auto check_final_names = [&] {
    if (!videos) return;
    const auto stats = sim.stats();
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(ws.path("videos"), ec)) {
      if (!e.is_regular_file() || e.path().extension() != ".mp4") continue;
      const auto it = stats.video_sizes.find(e.path().stem().string());
      if (it == stats.video_sizes.end() || e.file_size() != it->second) ++incomplete_at_kills;
    }
  };
  // Between a kill and the restart: damage where a crash could leave it.
  const bool damage = vm.count("damage") > 0;
  std::mt19937_64 damage_rng(vm["seed"].as<std::uint64_t>() + 1);
  int damaged_parts = 0, damaged_videos = 0;
  const auto damage_files = [&] {
    std::set<std::string> ended;
    for (const auto& r : ws.results()) ended.insert(std::string(r.at("project_id").as_string()));
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(ws.path("videos"), ec)) {
      if (!e.is_regular_file()) continue;
      const bool part = e.path().extension() == ".part";
      const bool unrecorded = e.path().extension() == ".mp4" && !ended.contains(e.path().stem().string());
      const auto size = e.file_size();
      if ((!part && !unrecorded) || size < 4096) continue;
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(std::uniform_int_distribution<std::uint64_t>(0, size - 4096)(damage_rng)));
      const std::string zeros(4096, '\0');
      f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
      (part ? damaged_parts : damaged_videos) += 1;
    }
  };
  const auto after_kill = [&] {
    check_final_names();
    if (damage && videos) damage_files();
  };
  const auto fig = testing::kill_and_restart(ws, kills, total, Millis(200), Millis(1500), Millis(600'000),
                                             vm["seed"].as<std::uint64_t>(), after_kill);
  soaking = false;
  if (refuser.joinable()) refuser.join();
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
  bool creates_ok = true;
  if (creates) {
    std::size_t once = 0, more = 0;
    for (const auto& [tag, n] : s.creates_by_tag) (n == 1 ? once : more) += 1;
    std::printf("  projects created      %llu for %zu tags: %zu tags once, %zu more than once\n",
                static_cast<unsigned long long>(s.create_requests), s.creates_by_tag.size(), once, more);
    std::printf("  list                  %llu calls, pages of %zu; refused for %d ms %d times; %llu create replies "
                "lost or garbled\n",
                static_cast<unsigned long long>(s.list_requests), k.list_page, vm["list-refused-ms"].as<int>(), refusals,
                static_cast<unsigned long long>(s.garbled_creates));
    creates_ok = more == 0 && once == total && s.create_requests == total;
  }
  bool videos_ok = true;
  if (videos) {
    std::uint64_t total_bytes = 0;
    int wrong = 0, parts = 0;
    for (const auto& [id, size] : s.video_sizes) total_bytes += size;
    for (const auto& r : ws.results()) {
      const std::string id(r.at("project_id").as_string());
      const auto* file = r.if_contains("file");
      const auto size = s.video_sizes.count(id) ? s.video_sizes.at(id) : 0;
      std::error_code ec;
      if (file == nullptr || std::filesystem::file_size(std::string(file->as_string()), ec) != size || ec ||
          r.at("sha256").as_string() != sim::video_sha256(id, size))
        ++wrong;
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(ws.path("videos"), ec))
      parts += e.path().extension() == ".part";
    const double ratio = total_bytes ? static_cast<double>(s.video_bytes_sent) / static_cast<double>(total_bytes) : 0;
    std::printf("  videos                %zu, %.1f MiB; sent %.1f MiB (%.2fx); %llu resumed with a range\n",
                s.video_sizes.size(), static_cast<double>(total_bytes) / (1 << 20),
                static_cast<double>(s.video_bytes_sent) / (1 << 20), ratio,
                static_cast<unsigned long long>(s.video_partial));
    std::printf("  ranges from the end   %llu answered 416 (range_at_end_416: %s)\n",
                static_cast<unsigned long long>(s.video_416), k.range_at_end_416 ? "on" : "off");
    if (damage)
      std::printf("  damaged between kills %d parts, %d videos not yet recorded\n", damaged_parts, damaged_videos);
    std::printf("  files wrong or absent %d (a recorded SHA-256 or size not the video's), .part left %d, "
                "incomplete under a final name at a kill %d\n",
                wrong, parts, incomplete_at_kills);
    videos_ok = wrong == 0 && parts == 0 && incomplete_at_kills == 0 && ratio <= 1.5;
  }
  bool deliveries_ok = true;
  if (deliver) {
    // Every job delivered at least once, its remote file equal to the one it downloaded; no run of a job's
    // command started after its result (delivered, journaled) was written; no command left running.
    std::map<std::string, std::vector<std::int64_t>> starts;
    std::map<std::string, int> done;
    std::ifstream log(ws.path("deliveries.log"));
    for (std::string word, when, id; log >> word >> when && std::getline(log >> std::ws, id);) {
      if (word == "start") starts[id].push_back(std::stoll(when));
      if (word == "done") ++done[id];
    }
    int undelivered = 0, unequal = 0, after_journaled = 0, runs = 0, again = 0;
    for (const auto& r : ws.results()) {
      const std::string job(r.at("job").as_string()), batch(r.at("batch").as_string());
      const auto id = batch + "/" + job;
      const auto file = std::string(r.at("file").as_string());
      const auto name = job.substr(0, job.find('#'));
      const auto remote = ws.path("remote/" + std::filesystem::path(name).stem().string() + "/" +
                                  job.substr(job.find('#') + 1) + ".mp4");
      if (done[id] == 0 || !std::filesystem::exists(remote)) ++undelivered;
      else if (testing::Workspace::read(remote) != testing::Workspace::read(file)) ++unequal;
      const auto finished = testing::parse_rfc3339_ms(std::string(r.at("finished_at").as_string()));
      for (const auto at : starts[id]) after_journaled += at > finished + 5;  // date's ms against ours: 5 ms slack
      runs += static_cast<int>(starts[id].size());
      again += starts[id].size() > 1;
    }
    // Commands killed at the daemon's stop may take a moment to exit: looked for again for up to 10 s.
    const auto count_left = [&] {
      int n = 0;
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const auto cmd = testing::Workspace::read(e.path().string() + "/cmdline");
        n += cmd.find(ws.path("deliver.sh")) != std::string::npos ||
             cmd.find("archive:" + ws.path("remote")) != std::string::npos;
      }
      return n;
    };
    int left = count_left();
    for (int i = 0; i < 500 && left > 0; ++i) {
      std::this_thread::sleep_for(Millis(20));
      left = count_left();
    }
    std::printf("  deliveries            %d runs; %d jobs delivered more than once (killed mid-delivery); "
                "%d not delivered, %d remote files unequal, %d runs after the job's delivery was journaled, "
                "%d delivery processes left\n",
                runs, again, undelivered, unequal, after_journaled, left);
    deliveries_ok = undelivered == 0 && unequal == 0 && after_journaled == 0 && left == 0;
  }
  const bool ok = per_key.size() == total && repeated == 0 && per_status["succeeded"] == static_cast<int>(total) &&
                  s.duplicate_exports == 0 && fig.final_exit == 0 && videos_ok && creates_ok && deliveries_ok;
  std::printf("  verdict               %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
