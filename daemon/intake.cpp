#include "intake.hpp"

#include <filesystem>
#include <iostream>
#include <system_error>

#include <boost/asio/co_spawn.hpp>

#include "ops/off_loop.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace fs = std::filesystem;

Intake::Intake(asio::io_context& io, const RunOptions& options, const Config& config, BatchStore& store,
               Exporter& exporter, Spool& spool, Logger& log, Supervise supervise)
    : io_(io),
      options_(options),
      config_(config),
      store_(store),
      exporter_(exporter),
      spool_(spool),
      log_(log),
      supervise_(std::move(supervise)) {}

Intake::~Intake() { reader_.join(); }

void Intake::take_at_start() {
  for (const auto& f : queue_files()) {
    auto queued = read_queue_file(f, config_.defaults);
    seen_queue_content_.insert(f + "\n" + queued.content);
    accept_queue_file(std::move(queued), options_.fresh);
  }
  for (const auto& name : spool_.waiting()) take_drop_file(name);
}

void Intake::watch() {
  watcher_.emplace(io_.get_executor(), spool_.incoming());
  asio::co_spawn(io_, watch_drops(), supervise_("drop watcher"));
  // Files that arrived between the scan at start-up and the watch.
  for (const auto& name : spool_.waiting()) take_drop_file(name);
}

void Intake::stop() {
  stopping_ = true;
  if (watcher_) watcher_->close();
}

// The queue files of the config, then those of the command line.
std::vector<std::string> Intake::queue_files() const {
  std::vector<std::string> files = config_.queue_files;
  files.insert(files.end(), options_.queues.begin(), options_.queues.end());
  return files;
}

// A queue file read (read_queue_file): its jobs to the exporter, or its problems to stderr.
void Intake::accept_queue_file(QueueRead queued, bool fresh) {
  auto taken = store_.accept_queue_file(std::move(queued), fresh);
  if (!taken) {
    std::cerr << taken.error().message << "\n";  // FILE:LINE:COL lines, as `exportd check` prints them
    rejected_files_ = true;
    return;
  }
  if (auto& p = *taken) exporter_.add_batch(p->id, std::move(p->specs), std::move(p->states));
}

// One dropped file. Whatever it holds or is, the watcher goes on: a file
// that makes the claim itself fail is moved to rejected/ with the reason.
void Intake::take_drop_file(const std::string& name) {
  if (stopping_) return;
  try {
    if (auto p = store_.take_drop_file(name, config_.defaults)) exporter_.add_batch(p->id, std::move(p->specs));
  } catch (const std::exception& e) {
    drop_failed(name, e);
  }
}

// Taking a dropped file in threw: the file is set aside with the reason,
// unless the spool itself is failing (rethrown: stop rather than lose state).
void Intake::drop_failed(const std::string& name, const std::exception& e) {
  const auto* sys = dynamic_cast<const std::system_error*>(&e);
  if (sys != nullptr && is_storage_failure(sys->code())) throw;
  log_.error("drop_failed", {{"file", name}, {"error", e.what()}});
  set_aside_drop(name, e.what());
}

void Intake::set_aside_drop(const std::string& name, const std::string& why) {
  std::error_code ec;
  if (fs::symlink_status(spool_.incoming() + "/" + name, ec).type() == fs::file_type::not_found) return;
  try {
    spool_.reject(name, spool_.incoming() + "/" + name + ":1:1: cannot be taken: " + why + "\n");
  } catch (const std::exception& e) {
    log_.error("reject_failed", {{"file", name}, {"error", e.what()}});
  }
}

asio::awaitable<void> Intake::watch_drops() {
  while (!stopping_) {
    auto names = co_await watcher_->next();
    for (const auto& n : names) co_await take_drop_file_off_loop(n);
  }
}

// A dropped file while the daemon runs: claimed and journaled on the loop,
// read (the YAML, and each distinct scenes file it names, once) on the
// reader thread, so that polls, hooks and watchdog pings go on.
asio::awaitable<void> Intake::take_drop_file_off_loop(const std::string& name) {
  if (stopping_) co_return;
  try {
    auto claimed = store_.claim_drop(name);
    if (!claimed) co_return;
    auto read = [this, drop = *claimed, defaults = config_.defaults] { return store_.read_drop(drop, defaults); };
    auto content = co_await off_loop(reader_, std::move(read));
    if (stopping_) co_return;  // claimed, not journaled: taken in again at the next start
    if (auto p = store_.accept_drop(*claimed, std::move(content))) exporter_.add_batch(p->id, std::move(p->specs));
  } catch (const std::exception& e) {
    drop_failed(name, e);
  }
}

void Intake::queue_files_changed() {
  // Read on the reader thread: a large queue file or scenes file holds up no poll.
  if (!queue_intake_running_) {
    queue_intake_running_ = true;
    asio::co_spawn(io_, take_changed_queue_files(), supervise_("queue file intake"));
  } else {
    queue_intake_again_ = true;  // a SIGHUP while one is read: once more after it
  }
}

asio::awaitable<void> Intake::take_changed_queue_files() {
  do {
    queue_intake_again_ = false;
    for (const auto& f : queue_files()) {
      auto read = [f, defaults = config_.defaults] { return read_queue_file(f, defaults); };
      auto queued = co_await off_loop(reader_, std::move(read));
      if (stopping_) break;
      if (!seen_queue_content_.insert(f + "\n" + queued.content).second) continue;
      accept_queue_file(std::move(queued), false);
    }
  } while (queue_intake_again_ && !stopping_);
  queue_intake_running_ = false;
}

}  // namespace exportd
