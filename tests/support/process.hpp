#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace exportd::testing {

struct ProcessResult {
  int exit_code = -1;     // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string out;        // standard output
  std::string err;        // standard error
  double wall_seconds = 0;
  double cpu_seconds = 0;  // user + system of the child
  long max_rss_kib = 0;    // peak resident set of the child (sampled VmHWM)
};

// Runs argv[0] with the rest as arguments, capturing both streams. The child
// is killed (SIGKILL) if it outlives `timeout`. `env` entries NAME=VALUE are
// added to this process's environment for the child.
ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& env = {});

}  // namespace exportd::testing
