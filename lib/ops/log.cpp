#include "ops/log.hpp"

#include <cstdlib>

#include <sys/stat.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "ops/progress_line.hpp"
#include "ops/time_format.hpp"
#include "text/safe_text.hpp"

namespace exportd {

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

bool is_journal_stream(int fd) {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

Logger::Logger(LogSettings settings, std::FILE* out)
    : settings_(settings), out_(out), journal_(is_journal_stream(::fileno(out))) {}

namespace {

// syslog priorities (sd-daemon.h): err 3, warning 4, info 6, debug 7.
const char* journal_prefix(LogLevel l) {
  switch (l) {
    case LogLevel::error: return "<3>";
    case LogLevel::warning: return "<4>";
    case LogLevel::info: return "<6>";
    case LogLevel::debug: return "<7>";
  }
  return "<6>";
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return true;
  return false;
}

std::string quoted(std::string_view v) {
  return boost::json::serialize(boost::json::value(boost::json::string_view(v.data(), v.size())));
}

}  // namespace

void Logger::log(LogLevel level, std::string_view event, Fields fields) {
  if (!enabled(level)) return;
  std::string line = journal_ ? journal_prefix(level) : "";
  const auto now = rfc3339(std::chrono::system_clock::now());
  if (settings_.format == LogFormat::json) {
    boost::json::object o;
    if (!journal_) o["time"] = now;
    o["level"] = to_string(level);
    o["event"] = event;
    for (const auto& [k, v] : fields) o[k] = to_utf8(v);
    line += boost::json::serialize(o);
  } else {
    if (!journal_) line += now + " ";
    line += std::string(to_string(level)) + " " + std::string(event);
    for (const auto& [k, raw] : fields) {
      // Values may carry API text or file names: valid UTF-8, no control
      // characters (a terminal or journal reads this line).
      const auto v = terminal_safe(raw);
      line += ' ';
      line += k;
      line += '=';
      line += needs_quotes(v) ? quoted(v) : v;
    }
  }
  line += '\n';
  if (overlay_ != nullptr) overlay_->clear();
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
  if (overlay_ != nullptr) overlay_->redraw();
}

}  // namespace exportd
