#pragma once

#include <exception>
#include <functional>
#include <string>

#include "ops/log.hpp"

namespace exportd {

// The completion handlers of the coroutines a daemon spawns (drop watcher,
// status writer, watchdog, progress line, signals): one that throws is never
// lost. Its exception becomes an error line naming the task, and the daemon
// is stopped with a non-zero exit, so systemd restarts it.
class TaskSupervisor {
 public:
  // `stop` is called once, with the exit code and why.
  using Stop = std::function<void(int exit_code, const std::string& why)>;
  TaskSupervisor(Logger& log, Stop stop) : log_(log), stop_(std::move(stop)) {}

  // The completion handler for co_spawn of `task`.
  std::function<void(std::exception_ptr)> watch(std::string task);

  // Why the daemon was stopped ("" while every task is well).
  const std::string& failure() const { return failure_; }

 private:
  Logger& log_;
  Stop stop_;
  std::string failure_;
};

}  // namespace exportd
