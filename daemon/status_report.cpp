#include "status_report.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "ops/time_format.hpp"
#include "spool/status.hpp"

namespace exportd {

namespace asio = boost::asio;

StatusReport::StatusReport(asio::io_context& io, EngineTime& time, Logger& log, Sources sources, bool once, bool draw)
    : io_(io),
      time_(time),
      log_(log),
      sources_(sources),
      once_(once),
      draw_(draw),
      started_at_(rfc3339(time.wall_now())) {
  if (draw_) log_.attach(&line_);
}

void StatusReport::write(const std::string& state, const std::string& error) {
  if (once_) return;
  const auto& exporter = sources_.exporter;
  const auto c = exporter.counts();
  const auto health = exporter.health();
  boost::json::object o{
      {"pid", static_cast<std::int64_t>(::getpid())},
      {"state", state},
      {"started_at", started_at_},
      {"updated_at", rfc3339(time_.wall_now())},
      {"jobs",
       boost::json::object{{"accepted", c.total}, {"ended", c.done}, {"failed", c.failed}, {"in_flight", c.in_flight}}},
      {"open_batches", sources_.store.open_batches()},
      {"downloads", boost::json::object{{"in_progress", c.downloading},
                                        {"paused_disk_full", c.downloads_paused},
                                        {"bytes", c.download_bytes},
                                        {"bytes_per_second", static_cast<std::uint64_t>(download_rate())}}},
      {"api", health.text()},
      {"last_error", !error.empty() ? error
                     : health.held  ? health.why
                                    : sources_.store.last_error()}};
  const auto written = write_status_file(sources_.spool.status_path(), o);
  if (!written && !status_failing_)
    log_.warning("status_unwritable", {{"error", written.error().message},
                                       {"what", "exportd status shows stale counts until it can write again"}});
  if (written && status_failing_) log_.info("status_written", {{"path", sources_.spool.status_path()}});
  status_failing_ = !written;
  const auto queued = c.total - c.done - c.in_flight;
  std::string line = std::to_string(c.in_flight) + " active, " + std::to_string(queued) + " queued, " +
                     std::to_string(c.failed) + " failed since start";
  if (c.downloading > 0) line += "; " + std::to_string(c.downloading) + " downloading";
  if (c.downloads_paused > 0)
    line += "; " + std::to_string(c.downloads_paused) + " downloads paused: download.dir is full";
  if (health.held) line += "; " + health.why;
  notifier_.status(line);
}

asio::awaitable<void> StatusReport::publish() {
  status_timer_.emplace(io_);
  while (!stopping_) {
    write("running");
    status_timer_->expires_after(std::chrono::seconds(2));
    co_await status_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> StatusReport::feed_watchdog() {
  watchdog_timer_.emplace(io_);
  while (!stopping_) {
    notifier_.watchdog();
    watchdog_timer_->expires_after(notifier_.watchdog_interval());
    co_await watchdog_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

double StatusReport::download_rate() { return rate_.sample(time_.now(), sources_.exporter.counts().download_bytes); }

asio::awaitable<void> StatusReport::draw_progress() {
  asio::steady_timer timer(io_);
  const auto start = time_.now();
  while (!stopping_) {
    line_.show(format_progress(sources_.exporter.counts(), std::chrono::duration_cast<Millis>(time_.now() - start),
                               download_rate()));
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void StatusReport::finish_line(Millis elapsed) {
  if (!draw_) return;
  line_.show(format_progress(sources_.exporter.counts(), elapsed));
  line_.finish();
  log_.attach(nullptr);
}

void StatusReport::stop() {
  stopping_ = true;
  if (status_timer_) status_timer_->cancel();
  if (watchdog_timer_) watchdog_timer_->cancel();
}

}  // namespace exportd
