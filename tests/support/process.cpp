#include "process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace exportd::testing {

namespace {

std::string slurp_and_remove(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  ::unlink(path.c_str());
  return s.str();
}

// The child's own peak resident set (VmHWM of its address space after exec).
// wait4's ru_maxrss is not used: it also counts the parent's pages that the
// child held between fork and exec.
// Sampled only once the child runs the new program (its Name: is the
// program's), so the pre-exec copy of this process is never counted.
long peak_rss_kib(pid_t pid, const std::string& program) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const std::string name = program.substr(program.rfind('/') + 1).substr(0, 15);
  std::string line;
  bool exec_done = false;
  while (std::getline(in, line)) {
    if (line.rfind("Name:", 0) == 0) exec_done = line.find(name) != std::string::npos;
    if (exec_done && line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

struct Spawned {
  pid_t pid;
  std::string out_path;
  std::string err_path;
};

Spawned spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  char out_tmpl[] = "/tmp/exportd-test-out-XXXXXX";
  char err_tmpl[] = "/tmp/exportd-test-err-XXXXXX";
  const int out_fd = ::mkstemp(out_tmpl);
  const int err_fd = ::mkstemp(err_tmpl);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("mkstemp failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::_Exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  return {pid, out_tmpl, err_tmpl};
}

// Waits for `pid` until `timeout` after `start`, then SIGKILLs it.
ProcessResult reap(pid_t pid, const std::string& program, std::chrono::steady_clock::time_point start,
                   std::chrono::milliseconds timeout, const std::string& out_path, const std::string& err_path) {
  ProcessResult r;
  int status = 0;
  rusage usage{};
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) throw std::runtime_error("wait4 failed");
    r.max_rss_kib = std::max(r.max_rss_kib, peak_rss_kib(pid, program));
    if (std::chrono::steady_clock::now() - start > timeout && !r.timed_out) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  r.out = slurp_and_remove(out_path);
  r.err = slurp_and_remove(err_path);
  return r;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& env) {
  const auto start = std::chrono::steady_clock::now();
  const auto child = spawn(argv, env);
  return reap(child.pid, argv[0], start, timeout, child.out_path, child.err_path);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env)
    : start_(std::chrono::steady_clock::now()) {
  auto child = spawn(argv, env);
  pid_ = child.pid;
  out_path_ = child.out_path;
  err_path_ = child.err_path;
  program_ = argv[0];
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
}

void ChildProcess::signal(int sig) { ::kill(pid_, sig); }

bool ChildProcess::running() {
  if (reaped_) return false;
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

ProcessResult ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto r = reap(pid_, program_, std::chrono::steady_clock::now(), timeout, out_path_, err_path_);
  reaped_ = true;
  return r;
}

std::string ChildProcess::err_so_far() const {
  std::ifstream in(err_path_, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace exportd::testing
