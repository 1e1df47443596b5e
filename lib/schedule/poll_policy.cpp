#include "schedule/poll_policy.hpp"

#include <algorithm>
#include <cmath>

namespace exportd {

namespace {

// Tuning: shares of a job's own timeline, not absolute times, so they hold
// for one-minute and one-hour exports alike.
constexpr double zero_wait_share = 1.5;     // at 0 %: wait one and a half times the job's age
constexpr double overdue_wait_share = 0.1;  // past the predicted finish: a tenth of its age
constexpr double coarse_overdue_share = 0.04;  // ... for a job in steps, whose next step is due
constexpr double close_in_share = 0.04;    // the lag a job in steps may be left with: 4 % of its time
constexpr double rate_probe_share = 0.15;   // one point of movement: read again after this share of its age
// A rate measured over this much movement (percent) is trusted: its finish
// is aimed at through the API's floor. Less is too little to go on.
constexpr double trusted_movement = 5.0;
constexpr double trend_tolerance = 0.3;  // the latest stretch's rate within 30 % of the whole run's: a trend
constexpr double stalled_wait_share = 0.3;  // ... and while it sits still again: a stall
constexpr double stall_factor = 2.0;        // flat for longer than this many expected step times: a stall

std::int32_t ms_since(TimePoint from, TimePoint to) {
  const auto ms = std::chrono::duration_cast<Millis>(to - from).count();
  return static_cast<std::int32_t>(std::clamp<Millis::rep>(ms, 0, INT32_MAX));
}

// A value a job reporting in steps would show: a multiple of 5 % or of a
// third or sixth (33.3, 66.6, 16.6 as the API floors them). A job moving
// smoothly lands on one rarely (one read in fifty at 0.1 % resolution).
bool looks_like_step(float v) {
  const auto near_multiple = [v](double step, double slack) {
    const double r = std::fmod(static_cast<double>(v) + slack, step);
    return r <= 2 * slack;
  };
  return v > 0.0f && (near_multiple(5.0, 0.051) || near_multiple(100.0 / 6.0, 0.12));
}

// The finest step `v` can have been floored to: 1, 0.1 or 0.01 percent.
double resolution_of(float v) {
  for (double res : {1.0, 0.1}) {
    const double r = std::fmod(static_cast<double>(v) + 0.001, res);
    if (r <= 0.002) return res;
  }
  return 0.01;
}

// When the latest change is reckoned to have happened.
double change_time(const ProgressTrack& t) {
  return t.coarse ? 0.5 * (t.changed_after_ms + t.changed_ms) : static_cast<double>(t.changed_ms);
}

// Narrows the bracket by one read of `v` at `at`; `step` is the floor
// (when the job left 0 %, the value it showed: no larger step is possible).
void narrow_finish(ProgressTrack& t, double v, double step, std::int32_t at) {
  const auto lo = 100.0 * at / (v + std::max(0.1, step));
  t.finish_lo_ms = std::max({t.finish_lo_ms, at, static_cast<std::int32_t>(std::min<double>(lo, INT32_MAX))});
  if (v > 0) t.finish_hi_ms = std::min(t.finish_hi_ms, static_cast<std::int32_t>(std::min(100.0 * at / v, 2e9)));
}

}  // namespace

void PollPolicy::observe(ProgressTrack& t, double progress, TimePoint submitted_at, TimePoint now) const {
  using Basis = ProgressTrack::Basis;
  const auto at = ms_since(submitted_at, now);
  const auto p = static_cast<float>(std::clamp(progress, 0.0, 100.0));
  if (t.basis == Basis::nothing) {
    // The first read of a job whose start was not seen: one point.
    if (p > 0.0f) t.basis = Basis::one_point;
    t.anchor_ms = t.changed_after_ms = t.changed_ms = at;
    t.anchor = t.value = p;
  } else if (p > t.value) {
    if (looks_like_step(p) && (t.value <= 0.0f || looks_like_step(t.value)) && t.read_ms > 0 &&
        (t.value > 0.0f || t.basis == Basis::one_point)) {
      // A second round value in a row: a job that reports in steps. Its
      // steps are measured from the submit, each placed mid-way between the
      // reads that bracket it.
      if (t.basis == Basis::one_point) {
        t.basis = Basis::rate;
        t.anchor_ms = 0;
        t.anchor = 0;
      }
      t.coarse = true;
    } else if (t.value <= 0.0f && t.read_ms > 0) {
      // It left 0 % after a read that saw 0: when it started is unknown.
      t.anchor_ms = at;
      t.anchor = p;
      t.basis = Basis::one_point;
    } else if (t.basis == Basis::one_point && t.flat_reads > 0) {
      // It sat still since the one point and moves again: when it began to
      // move is unknown again; this is the new one point.
      t.anchor_ms = at;
      t.anchor = p;
    } else if (t.basis == Basis::one_point) {
      t.basis = Basis::rate;  // a second point: the rate is measured from the first
    } else if (t.value > t.anchor) {
      // A step, a stall, or steady movement. This change took about as long
      // as the rate so far says (steady, or a step), or far longer: it
      // stalled in between, and the rate before says little about the rate after.
      const double before = change_time(t);
      const double rate = (t.value - t.anchor) / std::max(1.0, before - t.anchor_ms);
      const double moved_at = t.flat_reads > 0 ? 0.5 * (t.read_ms + at) : static_cast<double>(at);
      const double expected = (p - t.value) / std::max(1e-9, rate);
      if (moved_at - before > stall_factor * expected + (t.flat_reads > 0 ? 0.0 : 1.0)) {
        // It moves again after a stall: measure the new rate from here.
        t.anchor_ms = at;
        t.anchor = p;
        t.basis = Basis::one_point;
      } else if (t.flat_reads > 0) {
        t.coarse = true;
      }
    }
    if (t.step <= 0.0f || p - t.value < t.step) t.step = p - t.value;
    // The last read before the change, with the step now known: a step
    // found smaller than the one it was narrowed with tightens its bound.
    if (t.read_ms > 0) narrow_finish(t, t.value, p - t.value, t.read_ms);
    t.prev_change_ms = static_cast<std::int32_t>(change_time(t));
    t.prev_value = t.value;
    t.changed_after_ms = t.read_ms;
    t.changed_ms = at;
    t.value = p;
    t.flat_reads = 0;
  } else {
    if (t.flat_reads < UINT8_MAX) ++t.flat_reads;
    // Still waiting (at 0 %, or since movement began again): any movement
    // to measure starts after this read.
    if (t.value <= 0.0f || t.basis == Basis::one_point) t.anchor_ms = at;
    if (t.basis == Basis::one_point && t.value > 0.0f && t.prev_value <= 0.0f && t.flat_reads == 1) {
      // It jumped from 0 % and then sat: a job that reports in steps, not
      // one that began moving late. Its steps are measured from the submit.
      t.basis = Basis::rate;
      t.coarse = true;
      t.anchor_ms = 0;
      t.anchor = 0;
    }
  }
  if (p > 0.0f && t.basis != Basis::nothing) narrow_finish(t, p, t.step, at);
  t.read_ms = at;
}

PollPolicy::Prediction PollPolicy::predict(const ProgressTrack& t) const {
  if (t.value <= 0.0f || t.basis != ProgressTrack::Basis::rate) return {};
  const double since = change_time(t) - t.anchor_ms;
  const double moved = t.value - t.anchor;
  if (since <= 0 || moved <= 0) return {};
  // Time without movement since the change counts against the rate, and
  // the rest is still all to do.
  const double flat = std::max(0.0, t.read_ms - change_time(t));
  const double rate = moved / (since + (t.coarse ? 0.0 : flat));  // percent per ms
  const double from = t.coarse ? change_time(t) : static_cast<double>(t.read_ms);
  // A round value may be a step, and a step says little about when the next one comes.
  // A rate from the submit over one read is trusted (a straight line is
  // the common case); a rate from a later point, only once a second stretch agrees.
  Prediction out{from + (100.0 - t.value) / rate,
                 moved >= trusted_movement && !t.coarse && !looks_like_step(t.value) && t.anchor_ms == 0};
  // A job slowing down (a slow finish) is judged by its latest stretch; one
  // whose latest stretch disagrees with its whole run is not on a trend.
  const double recent_since = change_time(t) - t.prev_change_ms;
  if (!t.coarse && t.prev_change_ms > t.anchor_ms && t.prev_value >= t.anchor && recent_since > 0) {
    const double recent = (t.value - t.prev_value) / (recent_since + flat);
    if (recent < rate) out.finish_ms = from + (100.0 - t.value) / recent;
    if (recent > (1.0 + trend_tolerance) * rate && t.prev_value > t.anchor) {
      // Speeding up (a slow start): both rates are too slow. Progress that
      // grows as a power of the time since the anchor, fitted through the
      // last two changes, reaches 100 % sooner: read then, not later.
      const double k = std::log((t.value - t.anchor) / (t.prev_value - t.anchor)) /
                       std::log(since / std::max(1.0, static_cast<double>(t.prev_change_ms - t.anchor_ms)));
      if (k > 1.0)
        out.finish_ms = std::min(out.finish_ms, t.anchor_ms + since * std::pow((100.0 - t.anchor) / moved, 1.0 / k));
    }
    out.trusted = moved >= trusted_movement && !looks_like_step(t.value) &&
                  std::abs(recent / rate - 1.0) <= trend_tolerance;
  }
  return out;
}

double PollPolicy::predicted_finish_ms(const ProgressTrack& t) const { return predict(t).finish_ms; }

double PollPolicy::close_in(double finish_ms) const {
  return std::max<double>(static_cast<double>(s_.min_interval.count()), close_in_share * finish_ms);
}

TimePoint PollPolicy::next_poll(const ProgressTrack& t, TimePoint submitted_at, TimePoint now) const {
  const double age = std::max<double>(1.0, static_cast<double>(ms_since(submitted_at, now)));
  double wait = 0;
  if (t.value >= 100.0f) {
    wait = 0;  // 100 % without the link yet: it follows soon
  } else if (t.value <= 0.0f) {
    wait = zero_wait_share * age;
  } else if (t.basis != ProgressTrack::Basis::rate) {
    // One point: the movement began after the last read at 0 % (or the
    // job was adopted). A second read soon gives the rate.
    wait = (t.flat_reads == 0 ? rate_probe_share : stalled_wait_share) * age;
  } else if (t.coarse && t.anchor_ms == 0 && t.step > 0.0f &&
             t.finish_lo_ms < t.finish_hi_ms) {
    // Steps from the submit: close in on the finish. Once the bracket is
    // narrower than the lag a job may be left with, read at its end (the
    // finish is seen by then); until then, read where the next step splits
    // the bracket in half, or, at the last step, one tolerance in.
    const double lo = t.finish_lo_ms, hi = t.finish_hi_ms;
    const double read_at = static_cast<double>(ms_since(submitted_at, now));
    const double tolerance = close_in(hi);
    const double next_level = t.value + t.step;
    double at = 0;
    if (hi - lo <= tolerance) at = hi;
    else if (next_level >= 100.0 - 0.5 * t.step) at = lo + tolerance;
    else at = next_level / 100.0 * 0.5 * (lo + hi);
    wait = at - read_at;
  } else {
    const auto [finish, trusted] = predict(t);
    const double read_at = static_cast<double>(ms_since(submitted_at, now));
    if (finish > read_at) {
      wait = finish - read_at;
      if (trusted && t.anchor_ms == 0) {
        // A straight line from the submit, read through the API's floor:
        // the finish lies in (100t / (v + resolution), 100t / v] and is
        // aimed at its end. When that is wider than the lag a job may be
        // left with (a coarse resolution, an early read), one read later on
        // the line, where it is narrow enough, comes first.
        const double v = t.value, res = resolution_of(t.value), at = t.read_ms;
        const double hi = 100.0 * at / v, width = hi - 100.0 * at / (v + res);
        const double tolerance = close_in(hi);
        if (width > tolerance) wait = std::min(wait, hi * hi * res / (100.0 * tolerance) - read_at);
      }
    } else {
      // Past the predicted finish: a job in steps is due a step any moment.
      wait = (t.coarse ? coarse_overdue_share : overdue_wait_share) * age;
    }
  }
  // A job within a percent of the end is nearly done, whatever its rate
  // says (a slow finish sits on 99.9 for a while): read it at close range.
  if (t.value >= 99.0f) wait = std::min(wait, close_in_share * age);
  // max_interval is the operator's ceiling on every wait, however sure the
  // prediction: a curve that bends after it was measured is seen within it.
  const auto w = std::clamp(Millis(static_cast<Millis::rep>(wait)), s_.min_interval, s_.max_interval);
  return std::min(now + w, deadline(submitted_at));
}

}  // namespace exportd
