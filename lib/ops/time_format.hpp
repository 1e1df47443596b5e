#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace exportd {

// RFC 3339 in UTC with milliseconds: 2026-11-24T10:46:18.123Z
std::string rfc3339(std::chrono::system_clock::time_point t);
// Reads what rfc3339() writes (the fraction optional); none when it is not that.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);

}  // namespace exportd
