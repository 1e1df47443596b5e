#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace exportd {

using Millis = std::chrono::milliseconds;

// Parses "250ms", "5s", "10m", "2h" (a non-negative whole number and a unit).
// Returns nothing for anything else, including a bare number: a duration
// without a unit is a typo waiting to happen.
std::optional<Millis> parse_duration(std::string_view text);

// The shortest exact spelling of d in the units above ("90s", "2h", "250ms").
std::string format_duration(Millis d);

// "1m05s"-style rendering for humans (progress line, ETA); rounds to seconds.
std::string format_eta(Millis d);

}  // namespace exportd
