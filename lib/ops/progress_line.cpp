#include "ops/progress_line.hpp"

namespace exportd {

std::string format_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string format_progress(const BatchCounts& c, Millis elapsed, double download_rate) {
  std::string eta = "--";
  if (c.done > 0 && c.done < c.total) {
    const double per_job = static_cast<double>(elapsed.count()) / static_cast<double>(c.done);
    eta = format_eta(Millis(static_cast<Millis::rep>(per_job * static_cast<double>(c.total - c.done))));
  } else if (c.done == c.total) {
    eta = "0s";
  }
  const unsigned pct = c.total ? static_cast<unsigned>(c.done * 100 / c.total) : 100;
  std::string line = "exportd: " + std::to_string(c.done) + "/" + std::to_string(c.total) + " done (" +
                     std::to_string(pct) + "%), " + std::to_string(c.failed) + " failed, " +
                     std::to_string(c.in_flight) + " in flight";
  if (c.downloading > 0 || c.download_bytes > 0) {
    line += " (" + std::to_string(c.downloading) + " downloading, " + format_bytes(download_rate) + "/s, " +
            format_bytes(static_cast<double>(c.download_bytes)) + " in all";
    if (c.downloads_paused > 0) line += "; " + std::to_string(c.downloads_paused) + " paused: disk full";
    line += ")";
  }
  if (c.delivering > 0) line += ", " + std::to_string(c.delivering) + " delivering";
  return line + ", ETA " + eta;
}

void ProgressLine::show(std::string text) {
  text_ = std::move(text);
  redraw();
}

void ProgressLine::clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", out_);
  drawn_ = false;
}

void ProgressLine::redraw() {
  if (text_.empty()) return;
  std::fputs("\r\033[K", out_);
  std::fputs(text_.c_str(), out_);
  std::fflush(out_);
  drawn_ = true;
}

void ProgressLine::finish() {
  if (drawn_) std::fputs("\n", out_);
  std::fflush(out_);
  drawn_ = false;
  text_.clear();
}

double RateMeter::sample(Time now, std::uint64_t total) {
  if (!started_) {
    started_ = true;
    at_ = now;
    bytes_ = total;
  }
  const double secs = std::chrono::duration<double>(now - at_).count();
  if (now - at_ >= interval_ && secs > 0) {
    rate_ = static_cast<double>(total - bytes_) / secs;
    at_ = now;
    bytes_ = total;
  }
  return rate_;
}

}  // namespace exportd
