#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "time/duration.hpp"

namespace exportd {

struct BatchCounts {
  std::uint64_t total = 0;
  std::uint64_t done = 0;       // ended, whatever the outcome
  std::uint64_t failed = 0;     // failed or timed out
  std::uint64_t in_flight = 0;  // submitted, not ended
  std::uint64_t downloading = 0;       // exported, video being downloaded (or waiting its turn)
  std::uint64_t downloads_paused = 0;  // ... waiting for disk space
  std::uint64_t download_bytes = 0;    // video bytes written since start
  std::uint64_t delivering = 0;        // done, being handed on by deliver.command (or waiting its turn)
};

// "done/total" progress with an ETA from the rate of completion so far;
// with downloads, how many are under way and at what rate (bytes/s, measured
// by the caller over its last interval).
std::string format_progress(const BatchCounts& c, Millis elapsed, double download_rate = 0);

// Bytes per second over the latest interval of at least `interval`: each
// sample is the total so far and the time it was read (the caller's clock,
// so a test feeds its own); the rate holds between intervals.
class RateMeter {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit RateMeter(Millis interval = Millis(2000)) : interval_(interval) {}
  double sample(Time now, std::uint64_t total);

 private:
  Millis interval_;
  Time at_{};
  std::uint64_t bytes_ = 0;
  bool started_ = false;
  double rate_ = 0;
};

// 1536 -> "1.5 KiB", 3 * 2^30 -> "3.0 GiB".
std::string format_bytes(double bytes);

// The live line at the bottom of a terminal (run --once on a TTY only).
class ProgressLine {
 public:
  explicit ProgressLine(std::FILE* out) : out_(out) {}
  void show(std::string text);
  void clear();
  void redraw();
  void finish();  // leave the last text on its own line

 private:
  std::FILE* out_;
  std::string text_;
  bool drawn_ = false;
};

}  // namespace exportd
