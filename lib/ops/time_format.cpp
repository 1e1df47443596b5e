#include "ops/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace exportd {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int the format could print
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  int ms = 0;
  if (*rest == '.') {
    // Milliseconds: the first three digits of the fraction.
    ++rest;
    for (int scale = 100; scale > 0 && *rest >= '0' && *rest <= '9'; scale /= 10) ms += (*rest++ - '0') * scale;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  if (*rest != 'Z' || rest[1] != '\0') return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::seconds(timegm(&tm)) + std::chrono::milliseconds(ms));
}

}  // namespace exportd
