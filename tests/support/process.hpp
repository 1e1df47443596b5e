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

// A child left running in the background (the daemon under test).
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~ChildProcess();  // SIGKILLs a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  void signal(int sig);
  // Waits for the child to exit, at most `timeout` (then SIGKILL).
  ProcessResult wait(std::chrono::milliseconds timeout);
  bool running();
  // What it has written to standard error so far.
  std::string err_so_far() const;

 private:
  int pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  std::string program_;
  std::chrono::steady_clock::time_point start_;
  bool reaped_ = false;
};

}  // namespace exportd::testing
