#pragma once

// Helpers shared by the spool integration tests and the kill soak: dropping
// job files the way writers must (temp name, then rename), and the
// kill-and-restart loop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "process.hpp"
#include "workspace.hpp"

namespace exportd::testing {

// Writes `text` into incoming/NAME through a dot-name and a rename.
void drop_text(const Workspace& ws, const std::string& name, const std::string& text);

// Writes `count` export jobs for projects prefix0000.. into incoming/NAME,
// through a dot-name and a rename, as SPEC §5 asks of writers.
void drop_job_file(const Workspace& ws, const std::string& name, int first, int count, const std::string& prefix);

// Writes `count` create jobs c<first>.. naming `scenes` (an absolute path
// the config's jobs.scenes_root allows) into incoming/NAME, the same way.
void drop_create_file(const Workspace& ws, const std::string& name, int first, int count, const std::string& scenes);

// A scenes file of about `bytes`: one scene with many small clips, the
// shape that costs a JSON parser most (issue 26's large-template intake).
std::string many_clips_scenes(std::size_t bytes);

// Polls `done` every 20 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

std::size_t result_lines(const Workspace& ws);

// `exportd run -c <ws>/config.yaml` and `extra`: what a test starts as a daemon.
std::vector<std::string> run_argv(const Workspace& ws, const std::vector<std::string>& extra = {});
// `exportd run --once` on the workspace, bounded by `timeout`.
// `env`: NAME=VALUE entries added to its environment.
ProcessResult run_once(const Workspace& ws, std::chrono::milliseconds timeout, const std::vector<std::string>& extra = {},
                       const std::vector<std::string>& env = {});
// Waits until a daemon on the workspace has recovered its spool and written state/status.json.
bool wait_ready(const Workspace& ws, std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct KillSoakFigures {
  int kills = 0;
  double seconds = 0;
  std::uint64_t seed = 0;
  int final_exit = -1;
};

// Starts the daemon, SIGKILLs it at `kills` random moments (between
// `min_gap` and `max_gap` after each start), restarts it each time, then lets
// it run until results.jsonl has `expected` lines and stops it with SIGTERM.
// `after_kill` runs after each kill, while the daemon is down.
KillSoakFigures kill_and_restart(const Workspace& ws, int kills, std::size_t expected,
                                 std::chrono::milliseconds min_gap, std::chrono::milliseconds max_gap,
                                 std::chrono::milliseconds finish_timeout, std::uint64_t seed,
                                 const std::function<void()>& after_kill = {});

}  // namespace exportd::testing
