#pragma once

// How an export's progress moves from 0 to 100 % (SPEC §8), as pure
// functions of the time since the export started. The simulator serves
// them; the fake-time tests of the poll schedule run against them. Each
// shape's parameters are drawn per job, so a schedule is measured against a
// family of curves, not one.

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace exportd::sim {

enum class Shape : std::uint8_t {
  linear,  // a straight line from the submit to 100 %
  queued,  // waits in a render queue at 0 % (30-60 % of its time), then a straight line
  steps,   // reports in coarse steps (10, 20, 25 or 33 %), one per equal share of its time
  stall,   // quick to 40-70 %, stalls there, jumps a little, then finishes at a steady rate
  scurve,  // slow start, fast middle, slow finish
  mixed,   // each job one of the five above, drawn at random
};
std::string_view to_string(Shape s);
// "linear", "queued", ... ; false if unknown.
bool parse_shape(std::string_view text, Shape& out);

// One job's curve: its shape and the parameters drawn for it.
struct Curve {
  Shape shape = Shape::linear;
  double total_ms = 0;  // 100 % at this time
  double a = 0, b = 0, c = 0, d = 0;  // shape parameters (see progress_shapes.cpp)

  // Progress at `elapsed_ms` since the start, 0..100, 100 exactly at total_ms and after.
  double at(double elapsed_ms) const;
};

// Draws a curve of `shape` (a concrete one for `mixed`) lasting `total_ms`.
Curve draw_curve(Shape shape, double total_ms, std::mt19937_64& rng);

// What the API reports: progress floored to `resolution` (0.1 or 1 percent).
double reported(double progress, double resolution);

}  // namespace exportd::sim
