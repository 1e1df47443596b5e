#pragma once

// Sweeps (SPEC §8): one call to the project list (GET /editor/project, whose
// items carry `state`, "exported" when ready) shows which of many projects
// have finished, whatever shape their progress takes. While enough jobs are
// being polled, a sweep every `polling.sweep_every` finds each finish within
// that gap for a share of one call; the jobs the list shows are read on
// their own only as a safety net, and once when it shows them exported (the
// confirming read, as on a hook: a job ends only on its progress reply).
// With few jobs, reads of their own are cheaper and no sweep is made.
//
// The list's paging and ordering are undocumented, so nothing is assumed of
// them: a job the list does not show is polled as before, and a list that
// says "exported" where the job's own read says otherwise is not believed
// for that job again.

#include <cstddef>
#include <cstdint>

#include "config/settings.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// What the sweeps have shown of one job.
enum class SweepMark : std::uint8_t {
  unseen,      // no sweep has listed it since it was submitted (or sweeps stopped)
  unlisted,    // polled during the latest sweep and not in its list: read on its own
  unfinished,  // listed, not exported: its own reads are a safety net only
  hinted,      // listed as exported: its confirming read is due or under way
  excluded,    // the list said exported and its own read did not: never swept again
};
// Whether the sweeps stand in for a job's own reads.
inline bool swept(SweepMark m) { return m == SweepMark::unfinished || m == SweepMark::hinted; }

class SweepPlan {
 public:
  explicit SweepPlan(const PollingSettings& s) : every_(s.sweep_every), start_at_(s.sweep_min_jobs) {}

  // Whether sweeps are to run, given the jobs they would cover (listed in
  // the latest sweep, or submitted since): from sweep_min_jobs on; once
  // running, until fewer than a third of that are left (the end of a batch
  // is swept to its last few jobs, not handed back to per-job reads).
  bool worth_it(std::size_t covered, bool running) const;
  Millis every() const { return every_; }
  // List calls failed this many times in a row: the jobs go back to their
  // own reads, and no sweep is tried for `after_failure`.
  static constexpr std::uint32_t failures_to_give_up = 3;
  static constexpr Millis after_failure{60'000};
  // Whether the list does not tell finishes: `missed` swept jobs were found
  // done by reads of their own before a sweep showed them exported, against
  // `confirmed` that a sweep's "exported" ended. Then sweeps stop for the run.
  static bool list_misses_finishes(std::uint32_t missed, std::uint32_t confirmed) {
    return missed >= misses_to_give_up && missed > confirmed;
  }
  static constexpr std::uint32_t misses_to_give_up = 3;

  // A job in one sweep's list. True: read it now (the list shows it exported).
  static bool take_listing(SweepMark& mark, bool exported);
  // A job polled during a sweep and not in its list.
  static void not_listed(SweepMark& mark);
  // The job's own read came back below 100 %: a hint the list gave for it
  // was wrong (its state lags the progress, or means something else).
  static void read_unfinished(SweepMark& mark);

 private:
  Millis every_;
  std::size_t start_at_;
};

}  // namespace exportd
