#pragma once

#include <chrono>
#include <string>

namespace exportd {

// RFC 3339 in UTC with milliseconds: 2026-11-24T10:46:18.123Z
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace exportd
