#include "ops/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "ops/progress_line.hpp"
#include "ops/time_format.hpp"

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

namespace {

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
  std::string line;
  const auto now = rfc3339(std::chrono::system_clock::now());
  if (settings_.format == LogFormat::json) {
    boost::json::object o;
    o["time"] = now;
    o["level"] = to_string(level);
    o["event"] = event;
    for (const auto& [k, v] : fields) o[k] = v;
    line = boost::json::serialize(o);
  } else {
    line = now + " " + std::string(to_string(level)) + " " + std::string(event);
    for (const auto& [k, v] : fields) {
      line += ' ';
      line += k;
      line += '=';
      line += needs_quotes(v) ? quoted(v) : std::string(v);
    }
  }
  line += '\n';
  if (overlay_ != nullptr) overlay_->clear();
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
  if (overlay_ != nullptr) overlay_->redraw();
}

}  // namespace exportd
