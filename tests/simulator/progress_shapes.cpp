#include "progress_shapes.hpp"

#include <algorithm>
#include <cmath>

namespace exportd::sim {

std::string_view to_string(Shape s) {
  switch (s) {
    case Shape::linear: return "linear";
    case Shape::queued: return "queued";
    case Shape::steps: return "steps";
    case Shape::stall: return "stall";
    case Shape::scurve: return "scurve";
    case Shape::mixed: return "mixed";
  }
  return "?";
}

bool parse_shape(std::string_view text, Shape& out) {
  for (auto s : {Shape::linear, Shape::queued, Shape::steps, Shape::stall, Shape::scurve, Shape::mixed})
    if (to_string(s) == text) {
      out = s;
      return true;
    }
  return false;
}

namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }

}  // namespace

// Parameters, as shares of the total time (x = elapsed / total):
//   queued: a = the share spent at 0 %
//   steps:  a = the step in percent
//   stall:  a = the level it stalls at, b = when it gets there, c = when it moves again, d = the jump then
//   scurve: a = the steepness exponent (2 = smoothstep-like, higher = flatter ends)
Curve draw_curve(Shape shape, double total_ms, std::mt19937_64& rng) {
  if (shape == Shape::mixed) shape = static_cast<Shape>(std::uniform_int_distribution<int>(0, 4)(rng));
  Curve c;
  c.shape = shape;
  c.total_ms = total_ms;
  switch (shape) {
    case Shape::queued: c.a = uniform(rng, 0.3, 0.6); break;
    case Shape::steps: {
      static constexpr double steps[] = {10.0, 20.0, 25.0, 100.0 / 3.0};
      c.a = steps[std::uniform_int_distribution<int>(0, 3)(rng)];
      break;
    }
    case Shape::stall:
      c.a = uniform(rng, 40, 70);
      c.b = uniform(rng, 0.1, 0.25);
      c.c = uniform(rng, 0.5, 0.75);
      c.d = uniform(rng, 0, 10);
      break;
    case Shape::scurve: c.a = uniform(rng, 2.0, 3.0); break;
    default: break;
  }
  return c;
}

double Curve::at(double elapsed_ms) const {
  if (total_ms <= 0 || elapsed_ms >= total_ms) return 100.0;
  const double x = std::max(0.0, elapsed_ms / total_ms);
  double p = 100.0 * x;
  switch (shape) {
    case Shape::queued: p = x < a ? 0.0 : 100.0 * (x - a) / (1.0 - a); break;
    case Shape::steps: p = a * std::floor(100.0 * x / a + 1e-9); break;
    case Shape::stall:
      if (x < b) p = a * x / b;
      else if (x < c) p = a;
      else p = (a + d) + (100.0 - a - d) * (x - c) / (1.0 - c);
      break;
    case Shape::scurve: {
      // A regularized incomplete-beta-like curve: x^k / (x^k + (1-x)^k).
      const double u = std::pow(x, a), v = std::pow(1.0 - x, a);
      p = 100.0 * u / (u + v);
      break;
    }
    default: break;
  }
  return std::clamp(p, 0.0, 99.999);
}

double reported(double progress, double resolution) {
  if (progress >= 100.0) return 100.0;
  return std::min(100.0 - resolution, std::floor(progress / resolution + 1e-9) * resolution);
}

}  // namespace exportd::sim
