#pragma once

// Where a run's jobs come in: the queue files (at start-up, and the changed
// ones after a SIGHUP) and the drop folder (scanned at start-up, then
// watched). Each file is read once, off the event loop where the run is
// under way, and taken in on it: journaled by the BatchStore, its jobs
// handed to the Exporter. A file that cannot be taken is reported
// (FILE:LINE:COL on stderr for a queue file; rejected/ for a drop) and the
// intake goes on.

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "commands.hpp"
#include "config/config.hpp"
#include "engine/exporter.hpp"
#include "ops/log.hpp"
#include "spool/batch_store.hpp"
#include "spool/drop_watcher.hpp"
#include "spool/spool.hpp"

namespace exportd {

class Intake {
 public:
  // What a spawned task's failure is reported to (TaskSupervisor::watch).
  using Supervise = std::function<std::function<void(std::exception_ptr)>(std::string task)>;

  // `config` is the run's, read at each intake (a SIGHUP may change it).
  Intake(boost::asio::io_context& io, const RunOptions& options, const Config& config, BatchStore& store,
         Exporter& exporter, Spool& spool, Logger& log, Supervise supervise);
  ~Intake();

  // At start-up, on the loop before it runs: the queue files of the config
  // and the command line, then the files waiting in the drop folder.
  void take_at_start();
  // The drop folder watched from now on (a daemon run).
  void watch();
  // After a SIGHUP: the queue files whose content this process has not taken yet.
  void queue_files_changed();
  // No more intake: the watcher closed, reads under way end without taking their file.
  void stop();
  // A queue file was refused (its problems went to stderr): a batch run exits 2.
  bool rejected_files() const { return rejected_files_; }

 private:
  std::vector<std::string> queue_files() const;
  void accept_queue_file(QueueRead queued, bool fresh);
  void take_drop_file(const std::string& name);
  void drop_failed(const std::string& name, const std::exception& e);
  void set_aside_drop(const std::string& name, const std::string& why);
  boost::asio::awaitable<void> watch_drops();
  boost::asio::awaitable<void> take_drop_file_off_loop(const std::string& name);
  boost::asio::awaitable<void> take_changed_queue_files();

  boost::asio::io_context& io_;
  const RunOptions& options_;
  const Config& config_;
  BatchStore& store_;
  Exporter& exporter_;
  Spool& spool_;
  Logger& log_;
  Supervise supervise_;
  std::optional<DropWatcher> watcher_;
  std::set<std::string> seen_queue_content_;  // path + "\n" + content of every queue file taken
  bool stopping_ = false;
  bool rejected_files_ = false;
  bool queue_intake_running_ = false;  // take_changed_queue_files() is under way
  bool queue_intake_again_ = false;    // ... and a SIGHUP came meanwhile
  // Reads files off the loop. Last: joined first, before what it reads with.
  boost::asio::thread_pool reader_{1};
};

}  // namespace exportd
