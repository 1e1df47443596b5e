#include "text/byte_size.hpp"

#include <charconv>
#include <limits>
#include <utility>

namespace exportd {

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  constexpr std::pair<std::string_view, std::uint64_t> units[] = {
      {"B", 1},      {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},   {"TiB", 1ull << 40},
      {"kB", 1'000}, {"KB", 1'000},       {"MB", 1'000'000},   {"GB", 1'000'000'000}, {"TB", 1'000'000'000'000},
  };
  for (const auto& [name, scale] : units) {
    if (unit != name) continue;
    if (n > std::numeric_limits<std::uint64_t>::max() / scale) return std::nullopt;
    return n * scale;
  }
  return std::nullopt;
}

}  // namespace exportd
