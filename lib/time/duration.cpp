#include "time/duration.hpp"

#include <charconv>
#include <cstdint>
#include <cstdio>

namespace exportd {

std::optional<Millis> parse_duration(std::string_view text) {
  std::uint64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end == first) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(last - end));
  std::uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else return std::nullopt;
  constexpr std::uint64_t limit = 100ULL * 365 * 24 * 3'600'000;  // a century is plenty
  if (value > limit / scale) return std::nullopt;
  return Millis(static_cast<Millis::rep>(value * scale));
}

std::string format_duration(Millis d) {
  const auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_eta(Millis d) {
  auto s = (d.count() + 500) / 1000;
  if (s < 0) s = 0;
  const auto h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  char buf[32];
  if (h > 0) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(h), static_cast<long long>(m));
  else if (m > 0) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(m), static_cast<long long>(sec));
  else std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(sec));
  return buf;
}

}  // namespace exportd
