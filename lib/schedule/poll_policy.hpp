#pragma once

#include <cstdint>

#include "config/settings.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// What one job's progress reads have shown: enough to predict its finish
// from what was observed (SPEC §8), small enough for 100,000 jobs. Times are
// milliseconds since the submit.
struct ProgressTrack {
  std::int32_t read_ms = 0;           // the latest read (0: none yet)
  std::int32_t changed_after_ms = 0;  // the read before the one that first showed `value`
  std::int32_t changed_ms = 0;        // the read that first showed `value`
  std::int32_t anchor_ms = 0;         // the moment the current run of movement is measured from
  std::int32_t prev_change_ms = 0;    // when the change before the latest one is reckoned to have happened
  float value = 0;                    // the latest progress, 0..100
  float anchor = 0;                   // the progress at anchor_ms
  float prev_value = 0;               // the value before the latest change
  float step = 0;                     // the smallest change seen (percent; 0: none yet)
  // Where the finish lies (ms since the submit) if the job is a straight line
  // from the submit read through a floor of `step`: every read of v at t
  // puts it in (t * 100 / (v + step), t * 100 / v]. lo >= hi: it is not.
  std::int32_t finish_lo_ms = 0;
  std::int32_t finish_hi_ms = INT32_MAX;
  std::uint8_t flat_reads = 0;        // reads in a row since `value` was first shown
  bool coarse = false;                // progress comes in jumps: a change happened somewhere between two reads
  // What the rate can be measured from.
  enum class Basis : std::uint8_t {
    rate,       // anchor is a point of the current run of movement (at first: 0 % at the submit)
    one_point,  // movement began after a wait (or the job was adopted): one more change gives the rate
    nothing,    // no point yet (an adopted job, before its first read)
  } basis = Basis::rate;
};

// When to read a job's progress next.
//
// The schedule predicts the finish from what the job has shown, not from
// the submit time alone:
// - At 0 % (waiting in a render queue, or not started) it reads at growing
//   gaps, 1.5 times the job's age, so a long wait costs few calls.
// - Once progress moves, the rate is measured between the point the
//   current run of movement began (the submit, or where it left 0 % or a
//   stall) and the latest change; the finish is the latest change plus the
//   remaining percent at that rate. A job that reports in jumps (the same
//   value twice) has its changes placed mid-way between the reads that
//   bracket them. Time without movement counts against the rate: a stalled
//   job is not read as if it were about to finish.
// - Just after movement begins (one point, no rate yet) the next read comes
//   at half the longest it could still take, to measure the rate.
// - A straight line from the submit is read through the API's floor: the
//   finish lies in (100t / (v + resolution), 100t / v]. The read is aimed
//   at its end, after one read further along the line when that span is
//   wider than 4 % of the job's time (a whole-percent resolution).
// - A job in steps from the submit is closed in on by the bracket its reads
//   leave on the finish: where the next step halves it, then at its end.
// - A job speeding up (a slow start) is read when progress growing as a
//   power of the time would reach 100 %, sooner than either rate says.
// - A job past its predicted finish is read again soon (a short gap that
//   grows with its age), never as late as max_interval; so is one at 99 %
//   or more, whatever its rate says.
// Every wait is clamped to [min_interval, max_interval], however sure the
// prediction (max_interval is the operator's ceiling), and never passes the
// job's deadline, so a timeout is noticed on time.
class PollPolicy {
 public:
  // `safety_poll`: how long a job whose webhook is awaited goes unread.
  explicit PollPolicy(const PollingSettings& s, Millis safety_poll = std::chrono::minutes(10))
      : s_(s), safety_poll_(safety_poll) {}

  TimePoint first_poll(TimePoint submitted_at) const { return submitted_at + s_.first_poll_after; }
  // A job whose webhook is awaited: read only as a safety net.
  TimePoint safety_poll(TimePoint submitted_at, TimePoint now) const {
    return std::min(now + safety_poll_, deadline(submitted_at));
  }
  TimePoint deadline(TimePoint submitted_at) const { return submitted_at + s_.job_timeout; }

  // Takes in one read: `progress` at `now`.
  void observe(ProgressTrack& track, double progress, TimePoint submitted_at, TimePoint now) const;
  // The next read after the latest one.
  TimePoint next_poll(const ProgressTrack& track, TimePoint submitted_at, TimePoint now) const;

  // The predicted finish (ms since the submit), or a negative number when the
  // reads so far cannot tell (still at 0 %, or movement just began).
  double predicted_finish_ms(const ProgressTrack& track) const;

 private:
  struct Prediction {
    double finish_ms = -1;  // negative: none
    bool trusted = false;   // a steady trend over enough movement: its finish is aimed at through the API's floor
  };
  Prediction predict(const ProgressTrack& track) const;
  // The lag a job finishing at `finish_ms` may be left with when its finish
  // is closed in on: 4 % of its time, never below min_interval.
  double close_in(double finish_ms) const;

  PollingSettings s_;
  Millis safety_poll_;
};

}  // namespace exportd
