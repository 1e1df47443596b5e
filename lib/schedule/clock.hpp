#pragma once

#include <chrono>

namespace exportd {

// The core's notion of time. Decisions take `now` as an argument; only the
// I/O layer reads the real clock, so tests drive time by hand.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

}  // namespace exportd
