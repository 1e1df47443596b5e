#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace exportd {

// Parses "512KiB", "256MiB", "1GiB", "100MB", "4096B" (a whole number and a
// unit: B, KiB, MiB, GiB, TiB, or kB, MB, GB, TB in powers of 1000). A bare
// number is refused, as a duration without a unit is.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

}  // namespace exportd
