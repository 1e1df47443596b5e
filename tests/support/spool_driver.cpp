#include "spool_driver.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <signal.h>

#include "process.hpp"

namespace exportd::testing {

namespace fs = std::filesystem;

void drop_text(const Workspace& ws, const std::string& name, const std::string& text) {
  fs::create_directories(ws.path("state/incoming"));
  const auto tmp = ws.path("state/incoming/." + name + ".tmp");
  std::ofstream(tmp, std::ios::binary) << text;
  fs::rename(tmp, ws.path("state/incoming/" + name));
}


void drop_job_file(const Workspace& ws, const std::string& name, int first, int count, const std::string& prefix) {
  std::string text = "jobs:\n";
  char id[48];
  for (int i = first; i < first + count; ++i) {
    std::snprintf(id, sizeof id, "%s%04d", prefix.c_str(), i);
    text += std::string("  - project_id: ") + id + "\n";
  }
  drop_text(ws, name, text);
}

void drop_create_file(const Workspace& ws, const std::string& name, int first, int count, const std::string& scenes) {
  std::string text = "jobs:\n";
  for (int i = first; i < first + count; ++i)
    text += "  - scenes_file: " + scenes + "\n    name: Soak " + std::to_string(i) + "\n    id: c" + std::to_string(i) + "\n";
  drop_text(ws, name, text);
}

std::string many_clips_scenes(std::size_t bytes) {
  std::string scenes = R"([{"sceneIdx":0,"background":{},"clips":[)";
  for (int i = 0; scenes.size() < bytes; ++i) {
    if (i > 0) scenes += ",";
    scenes += R"({"type":"shape","height":1,"width":1,"left":0,"top":0,"layer":1,"t":[1,2,{"x":0.5}],"id":"c)" +
              std::to_string(i) + "\"}";
  }
  return scenes + "]}]";
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

std::size_t result_lines(const Workspace& ws) {
  std::istringstream in(ws.results_text());
  std::size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

KillSoakFigures kill_and_restart(const Workspace& ws, int kills, std::size_t expected,
                                 std::chrono::milliseconds min_gap, std::chrono::milliseconds max_gap,
                                 std::chrono::milliseconds finish_timeout, std::uint64_t seed,
                                 const std::function<void()>& after_kill) {
  KillSoakFigures f;
  f.seed = seed;
  std::mt19937_64 rng(seed);
  const std::vector<std::string> argv{exportd_binary(), "run", "-c", ws.path("config.yaml")};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kills; ++i) {
    ChildProcess daemon(argv);
    const auto gap =
        min_gap + std::chrono::milliseconds(rng() % static_cast<std::uint64_t>((max_gap - min_gap).count() + 1));
    std::this_thread::sleep_for(gap);
    daemon.signal(SIGKILL);
    daemon.wait(std::chrono::seconds(10));
    ++f.kills;
    if (after_kill) after_kill();
    if (result_lines(ws) >= expected) break;  // it finished before the kill: nothing left to interrupt
  }
  ChildProcess daemon(argv);
  wait_until([&] { return result_lines(ws) >= expected; }, finish_timeout);
  // SIGTERM only once the daemon is up (its status file names it); before
  // that the signal would find the default action, not the daemon's handler.
  const auto up = "\"pid\":" + std::to_string(daemon.pid()) + ",";
  wait_until([&] { return Workspace::read(ws.path("state/status.json")).find(up) != std::string::npos; },
             std::chrono::seconds(10));
  daemon.signal(SIGTERM);
  f.final_exit = daemon.wait(std::chrono::seconds(10)).exit_code;
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return f;
}

std::vector<std::string> run_argv(const Workspace& ws, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{exportd_binary(), "run", "-c", ws.path("config.yaml")};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

ProcessResult run_once(const Workspace& ws, std::chrono::milliseconds timeout, const std::vector<std::string>& extra,
                       const std::vector<std::string>& env) {
  auto argv = run_argv(ws, {"--once"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_process(argv, timeout, env);
}

bool wait_ready(const Workspace& ws, std::chrono::milliseconds timeout) {
  return wait_until([&] { return std::filesystem::exists(ws.path("state/status.json")); }, timeout);
}

}  // namespace exportd::testing
