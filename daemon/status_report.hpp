#pragma once

// What a run tells the people and programs watching it: status.json every
// two seconds (exportd status reads it), systemd's status line, ready,
// reloading and stopping notices and the watchdog's pings (fed from the event
// loop itself: a hung loop stops them), and the live progress line on a
// terminal.

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "engine/exporter.hpp"
#include "ops/log.hpp"
#include "ops/progress_line.hpp"
#include "ops/service_notifier.hpp"
#include "schedule/engine_time.hpp"
#include "spool/batch_store.hpp"
#include "spool/spool.hpp"

namespace exportd {

class StatusReport {
 public:
  struct Sources {
    const Exporter& exporter;
    const BatchStore& store;
    const Spool& spool;
  };
  // `once`: a batch run (no status.json); `draw`: the progress line on stderr.
  StatusReport(boost::asio::io_context& io, EngineTime& time, Logger& log, Sources sources, bool once, bool draw);

  ServiceNotifier& notifier() { return notifier_; }
  // status.json now ("running", "stopped"), with `error` as the last error if given.
  void write(const std::string& state, const std::string& error = {});
  // status.json every two seconds, until stop().
  boost::asio::awaitable<void> publish();
  // systemd's watchdog, pinged from the loop, until stop().
  boost::asio::awaitable<void> feed_watchdog();
  // The progress line, redrawn four times a second until stop().
  boost::asio::awaitable<void> draw_progress();
  // The progress line's last text, left on its own line.
  void finish_line(Millis elapsed);
  bool drawing() const { return draw_; }
  void stop();

 private:
  double download_rate();  // video bytes per second over the last few seconds

  boost::asio::io_context& io_;
  EngineTime& time_;
  Logger& log_;
  Sources sources_;
  bool once_;
  bool draw_;
  ProgressLine line_{stderr};
  ServiceNotifier notifier_;
  RateMeter rate_;
  std::optional<boost::asio::steady_timer> status_timer_;
  std::optional<boost::asio::steady_timer> watchdog_timer_;
  std::string started_at_;
  bool status_failing_ = false;  // status.json could not be written last time (said once)
  bool stopping_ = false;
};

}  // namespace exportd
