#pragma once

#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "ops/log_settings.hpp"

namespace exportd {

class ProgressLine;

// Structured event log: one line per event, "text" for people or "json" for
// shippers. Callers pass only what may be shown; no token or key reaches here.
class Logger {
 public:
  using Field = std::pair<std::string_view, std::string_view>;
  using Fields = std::initializer_list<Field>;

  explicit Logger(LogSettings settings, std::FILE* out = stderr);

  void set_settings(LogSettings s) { settings_ = s; }
  bool enabled(LogLevel level) const { return level >= settings_.level; }
  void log(LogLevel level, std::string_view event, Fields fields = {});
  void debug(std::string_view event, Fields f = {}) { log(LogLevel::debug, event, f); }
  void info(std::string_view event, Fields f = {}) { log(LogLevel::info, event, f); }
  void warning(std::string_view event, Fields f = {}) { log(LogLevel::warning, event, f); }
  void error(std::string_view event, Fields f = {}) { log(LogLevel::error, event, f); }

  // A live status line that log lines must not tear: cleared before each
  // line and redrawn after it.
  void attach(ProgressLine* line) { overlay_ = line; }

 private:
  LogSettings settings_;
  std::FILE* out_;
  ProgressLine* overlay_ = nullptr;
  bool journal_ = false;  // stderr is the journal: <N> priority prefix, no timestamp of our own
};

// True when `fd` is the stream systemd's journal handed us (JOURNAL_STREAM
// names its device and inode).
bool is_journal_stream(int fd);

std::string_view to_string(LogLevel l);

}  // namespace exportd
