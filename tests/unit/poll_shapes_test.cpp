// The poll schedule against each progress shape of SPEC §8, in fake time:
// 300 jobs of 1-2 minutes per shape, default polling settings. What a job
// costs (API calls: the export and each progress read) and how late its
// finish is seen (from 100 % to the read that shows it).

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "progress_shapes.hpp"
#include "schedule/poll_policy.hpp"

namespace exportd {
namespace {

struct ShapeFigures {
  double calls_per_job = 0;
  double lag_p50_s = 0;
  double lag_p95_s = 0;
  double lag_max_s = 0;
  double longest_gap_s = 0;  // the longest wait between two reads of an unfinished export
};

// How long the exports take: uniform in [shortest, longest].
struct Durations {
  double shortest_ms = 60'000;
  double longest_ms = 120'000;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// Runs `jobs` jobs of `shape` through the schedule alone: no network, the
// reads are the curve at the read's time, as the API would report it.
ShapeFigures run_shape(sim::Shape shape, int jobs, const PollingSettings& settings, double resolution,
                       std::uint64_t seed, Durations durations = {}) {
  std::mt19937_64 rng(seed);
  const PollPolicy policy(settings);
  std::vector<double> lags;
  double calls = 0;
  Millis longest_gap{0};
  // EXPORTD_TRACE_SHAPE=<shape> prints the first jobs' reads of that shape.
  const char* trace = std::getenv("EXPORTD_TRACE_SHAPE");
  const auto traced = [&](int job) { return trace != nullptr && to_string(shape) == trace && job < 40; };
  for (int i = 0; i < jobs; ++i) {
    const double total_ms =
        std::uniform_real_distribution<double>(durations.shortest_ms, durations.longest_ms)(rng);
    const auto curve = sim::draw_curve(shape, total_ms, rng);
    const TimePoint submitted{};
    ProgressTrack track;
    calls += 1;  // the export call
    for (TimePoint due = policy.first_poll(submitted);; ) {
      calls += 1;
      const double at = std::chrono::duration<double, std::milli>(due - submitted).count();
      const double p = sim::reported(curve.at(at), resolution);
      if (p >= 100.0) {
        lags.push_back((at - total_ms) / 1000.0);
        if (traced(i))
          std::cout << "  job " << i << " T=" << total_ms / 1000 << " done@" << at / 1000 << " lag " << lags.back() << "\n";
        break;
      }
      policy.observe(track, p, submitted, due);
      const auto next = policy.next_poll(track, submitted, due);
      if (traced(i))
        std::cout << "  job " << i << " T=" << total_ms / 1000 << " read@" << at / 1000 << " p=" << p
                  << " next@" << std::chrono::duration<double>(next - submitted).count() << "\n";

      EXPECT_GT(next, due);
      longest_gap = std::max(longest_gap, std::chrono::duration_cast<Millis>(next - due));
      due = next;
    }
  }
  return {calls / jobs, percentile(lags, 0.5), percentile(lags, 0.95), percentile(lags, 1.0),
          std::chrono::duration<double>(longest_gap).count()};
}

// A peer: reads every `every`, whatever the job shows (the vendor's sample
// loops at 3 s; the seed's at 60 s).
ShapeFigures run_fixed(sim::Shape shape, int jobs, Millis every, double resolution, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> lags;
  double calls = 0;
  const double step = static_cast<double>(every.count());
  for (int i = 0; i < jobs; ++i) {
    const double total_ms = std::uniform_real_distribution<double>(60'000, 120'000)(rng);
    const auto curve = sim::draw_curve(shape, total_ms, rng);
    calls += 1;
    for (double at = step;; at += step) {
      calls += 1;
      if (sim::reported(curve.at(at), resolution) >= 100.0) {
        lags.push_back((at - total_ms) / 1000.0);
        break;
      }
    }
  }
  return {calls / jobs, percentile(lags, 0.5), percentile(lags, 0.95), percentile(lags, 1.0)};
}

void print(const char* who, sim::Shape shape, double resolution, const ShapeFigures& f) {
  std::cout << "[ figures  ] " << std::left << std::setw(9) << who << " " << std::setw(7) << to_string(shape)
            << " resolution " << std::setprecision(1) << std::fixed << resolution << "%: " << std::fixed << std::setprecision(2) << f.calls_per_job << " calls/job, lag p50 "
            << f.lag_p50_s << " s, p95 " << f.lag_p95_s << " s, max " << f.lag_max_s << " s\n";
}

// The schedule beats both fixed pollers on both axes at once, on every
// shape: fewer calls than reading every 3 s, and a smaller lag than reading
// every 60 s. (The issue's absolute targets are reported by the benchmark.)
TEST(PollShapes, EveryShapeBeatsBothFixedPollersOnBothAxes) {
  const PollingSettings defaults;  // first poll 10 s, 3-60 s
  for (double resolution : {0.1, 1.0}) {
    for (auto shape : {sim::Shape::linear, sim::Shape::queued, sim::Shape::steps, sim::Shape::stall,
                       sim::Shape::scurve}) {
      const auto ours = run_shape(shape, 300, defaults, resolution, 7);
      const auto every3 = run_fixed(shape, 300, std::chrono::seconds(3), resolution, 7);
      const auto every60 = run_fixed(shape, 300, std::chrono::seconds(60), resolution, 7);
      print("exportd", shape, resolution, ours);
      print("every 3s", shape, resolution, every3);
      print("every 60s", shape, resolution, every60);
      EXPECT_LT(ours.calls_per_job, every3.calls_per_job / 3) << to_string(shape);
      EXPECT_LT(ours.lag_p95_s, every60.lag_p95_s) << to_string(shape);
      EXPECT_LT(ours.lag_p50_s, every60.lag_p50_s / 3) << to_string(shape);
    }
  }
}

// A straight line from the submit, the API's documented shape: the
// export, one read to measure the rate, one at the finish, and one more for
// each max_interval the wait would pass (at the default 60 s, exports of
// over 70 s: most of these); the finish seen within a second or so.
TEST(PollShapes, AStraightLineCostsAboutThreeCallsPlusOneAMaxInterval) {
  const auto f = run_shape(sim::Shape::linear, 300, PollingSettings{}, 0.1, 11);
  EXPECT_LE(f.calls_per_job, 4.0);
  EXPECT_LE(f.lag_p95_s, 1.5);
  PollingSettings roomy;
  roomy.max_interval = std::chrono::minutes(2);
  const auto g = run_shape(sim::Shape::linear, 300, roomy, 0.1, 11);
  EXPECT_LE(g.calls_per_job, 3.2);
  EXPECT_LE(g.lag_p95_s, 1.5);
}

// max_interval is the operator's ceiling on every wait between two reads of
// an unfinished export, however sure the schedule is of its prediction: with
// 1 s, no gap is longer, on any shape, at either resolution, for short and
// long exports alike. (A trusted straight line waited 33 s past it.)
TEST(PollShapes, MaxIntervalBoundsEveryWaitOnEveryShape) {
  PollingSettings tight;
  tight.first_poll_after = std::chrono::seconds(1);
  tight.min_interval = std::chrono::milliseconds(250);
  tight.max_interval = std::chrono::seconds(1);
  for (const Durations durations : {Durations{20'000, 40'000}, Durations{60'000, 120'000}}) {
    for (double resolution : {0.1, 1.0}) {
      for (auto shape : {sim::Shape::linear, sim::Shape::queued, sim::Shape::steps, sim::Shape::stall,
                         sim::Shape::scurve}) {
        const auto f = run_shape(shape, 300, tight, resolution, 13, durations);
        EXPECT_LE(f.longest_gap_s, 1.0) << to_string(shape) << " at " << resolution << "%";
        EXPECT_LE(f.lag_max_s, 1.0) << to_string(shape) << " at " << resolution << "%";
      }
    }
  }
  // The defaults too: nothing waits past 60 s.
  for (auto shape : {sim::Shape::linear, sim::Shape::queued, sim::Shape::steps, sim::Shape::stall,
                     sim::Shape::scurve})
    EXPECT_LE(run_shape(shape, 300, PollingSettings{}, 0.1, 17).longest_gap_s, 60.0) << to_string(shape);
}

}  // namespace
}  // namespace exportd
