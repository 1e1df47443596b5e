#pragma once

#include <cstdint>

namespace exportd {

enum class LogLevel : std::uint8_t {
  debug,    // every request and decision
  info,     // one line per job event
  warning,  // retries, renewals that failed, things an operator should look at
  error,    // a job or the daemon could not go on
};

enum class LogFormat : std::uint8_t {
  text,  // human-readable lines
  json,  // one JSON object per line, for log shippers
};

struct LogSettings {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::text;
};

}  // namespace exportd
