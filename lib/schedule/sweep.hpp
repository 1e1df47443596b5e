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
// them: a sweep follows the pages a reply says there are (ListPager), within
// bounds, and a job no page shows is polled as before; a list that says
// "exported" where the job's own read says otherwise is not believed for
// that job again.

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "api/wire.hpp"
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
  bool on() const { return every_.count() > 0 && start_at_ > 0; }
  Millis every() const { return every_; }
  // The tail of a batch, fewer jobs than worth_it keeps sweeping for, is
  // still swept for up to this long: handing those jobs back mid-life would
  // leave their own schedule nothing to predict from (a job in steps read
  // once at 50 % waits a straight line's worth, up to max_interval late),
  // and a batch's tail is short. Stragglers beyond it are handed back.
  static constexpr Millis tail_limit{60'000};
  // Whether list calls that failed `in_a_row` times, the latest `transient`
  // (a fault the API may not repeat: a 5xx, a dropped connection, a reply
  // that is not the envelope), are given up on: the jobs go back to their own
  // reads, and no sweep is tried for `after_failure`. A refusal (the list is
  // not there) after 3; faults only after 8, each tried at the next beat: a
  // hand-back costs every swept job a read at once, a failed beat only its
  // finishes seen a beat later (at 20 % faults, 3 in a row came in about one
  // beat in 125, and with it a read of every job).
  static bool gives_up(std::uint32_t in_a_row, bool transient) {
    return in_a_row >= (transient ? transient_failures_to_give_up : failures_to_give_up);
  }
  static constexpr std::uint32_t failures_to_give_up = 3;
  static constexpr std::uint32_t transient_failures_to_give_up = 8;
  static constexpr Millis after_failure{60'000};
  // After a submit, the jobs are counted again this much later (not at each
  // submit: a count walks every job). Short, so sweeps are on before the
  // jobs' first reads fall due (first_poll_after may be 1 s; a second here
  // let a burst of submits held back by the breaker each get its own reads).
  static constexpr Millis settle{200};
  // A list call that failed is tried again this soon, within the beat.
  static Millis retry_in(Millis every) { return std::max(Millis(100), every / 4); }
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

  // What one sweep's list means for a job it covers: `exported` is what the
  // list says of it, nothing when no page of the sweep listed it;
  // `complete`: every page the sweep meant to read was read; `covers_all`:
  // false for a list that has shown itself to be a window the jobs slide
  // out of unfinished (its newest N only, pages it does not say how to
  // reach: SweepMachine::window) when this sweep left some covered job out.
  // Such a list is a source of hints and nothing more: a job it shows
  // exported is read now, and every job keeps (or gets back) its own reads,
  // so one that slides out has the schedule it would have had with no list.
  // A list that leaves the same jobs out for good (a filter) still stands
  // in for the ones it shows; the others are read on their own.
  enum class Listing : std::uint8_t {
    none,
    confirm,         // listed as exported: read it now (many hints, one read)
    confirm_swept,   // ... and an earlier sweep saw it unfinished: its lag counts from that sweep
    safety_net,      // newly listed unfinished: its own reads become a safety net
    hand_back,       // swept before, no longer listed: read on its own again, now
  };
  static Listing take(SweepMark& mark, std::optional<bool> exported, bool complete, bool covers_all);

 private:
  Millis every_;
  std::size_t start_at_;
};

// Which page of the project list one sweep asks for next. A sweep reads the
// list as it comes, then follows what each reply says of further pages (a
// next page by number or by path; else page + 1 while a total, a "has more"
// or a full page says there are more) until every job it covers has been
// listed, the pages run out, or it has made `max_pages` calls: at most one
// sweep's worth per beat, and never a loop (a page asked for twice, or a
// reply that ignores the page asked for, ends it).
class ListPager {
 public:
  // One list call for every `jobs_per_call` jobs the sweep covers, at most
  // (the economics of SweepPlan::worth_it, which keeps sweeping to a third
  // of sweep_min_jobs: 10 at the defaults): pages beyond that are not read
  // and their jobs keep their own schedule.
  static constexpr std::size_t jobs_per_call = 10;
  // `pages_before`: the pages the latest sweep that listed every covered job
  // read. As the jobs end, the ones left are still spread over those pages:
  // a sweep goes on reading them (one sweep's worth) rather than handing
  // the jobs on the far pages back mid-life, with no reads of their own
  // behind them to predict their finish from.
  explicit ListPager(std::size_t covered, std::size_t pages_before = 0)
      : max_pages_(std::max<std::size_t>({1, (covered + jobs_per_call - 1) / jobs_per_call, pages_before})) {}

  // The reply to the page asked for last (`asked`): its items and paging,
  // and how many of the covered jobs no page of this sweep has listed yet.
  // The next page to ask for, or nothing: the sweep is complete.
  std::optional<ListQuery> next(const ListQuery& asked, const ListPaging& paging, std::size_t items,
                                std::size_t unlisted);
  std::size_t pages() const { return pages_; }

 private:
  std::size_t max_pages_;
  std::size_t pages_ = 0;
  std::uint64_t items_ = 0;
  std::vector<ListQuery> asked_;
};

// The sweeps of one run, as a pure machine (the Sweeper carries out what it
// says, on its own timer): whether they are on, when the next one is due,
// what a failed list call means, and whether the list has proved not to
// show finishes. Times come in; nothing here reads a clock.
class SweepMachine {
 public:
  explicit SweepMachine(const PollingSettings& s) : plan_(s) {}
  void reconfigure(const PollingSettings& s) { plan_ = SweepPlan(s); }

  // What the sweeper does now, given the jobs a sweep would cover (every
  // candidate but those the latest complete sweep did not list).
  struct Next {
    enum class Kind : std::uint8_t {
      sweep,      // make one (`starts`: the first since sweeps were off)
      stop,       // sweeps are off from now: hand every swept job back
      wait_until, // nothing before `at` (a sweep that failed is not tried again before)
      wait,       // nothing until a submit or a reload (then count again after `SweepPlan::settle`)
    } kind;
    TimePoint at{};
    bool starts = false;
  };
  Next next(TimePoint now, std::size_t covered);
  // Whether a sweep is worth making now (SweepPlan::worth_it, or the tail of a batch).
  bool worth_sweeping(TimePoint now, std::size_t covered);
  // When the sweep that began at `started` is followed by the next: on a
  // steady beat from its start; a first list call that failed, within the beat.
  TimePoint next_beat(TimePoint started, bool listed, TimePoint now) const {
    return std::max(now, listed ? started + plan_.every() : now + SweepPlan::retry_in(plan_.every()));
  }

  // When a job submitted at `now` is first read on its own, its schedule
  // saying `first_poll`: while sweeps run, not before two beats, so that a
  // sweep has had the time to list it even when its list call is slow (a
  // fault retried within the beat, a busy host). A job no sweep lists keeps
  // its own schedule from then on.
  TimePoint first_read(TimePoint first_poll, TimePoint now) const {
    return running_ ? std::max(first_poll, now + 2 * plan_.every()) : first_poll;
  }

  // One sweep: the pager for it, then each page's outcome.
  ListPager begin(std::size_t covered) const { return ListPager(covered, pages_); }
  void on_page() { failures_ = 0; }
  enum class Failed : std::uint8_t {
    retry,    // its first page: the sweep is tried again within the beat
    partial,  // a later page: the pages read stand; jobs on the others keep their marks
    give_up,  // too many in a row: sweeps are off for SweepPlan::after_failure
  };
  // A list call failed; `transient`: a fault the API may not repeat.
  // `in_a_row`: the failures counted, this one included.
  struct Failure {
    Failed kind;
    std::uint32_t in_a_row;
  };
  Failure on_failure(TimePoint now, bool transient, std::size_t pages_read);
  // The sweep's pages are read; `all_listed`: every covered job was on
  // them, in `pages` calls. Returns the latest sight of its listed jobs
  // unfinished: the sweep before this one.
  TimePoint on_swept(TimePoint now, std::size_t pages, bool all_listed);

  // A sweep whose pages were all read no longer listed a job it had been
  // standing in for, still unfinished: the list is a window the jobs slide
  // out of. For the rest of the run it gives hints only whenever it leaves
  // a job out.
  void on_dropped() { window_ = true; }
  bool window() const { return window_; }

  // A swept job's own read found it done, its mark as it was. True when the
  // list has now proved not to show finishes: sweeps are off for the run.
  bool on_done(SweepMark mark);
  std::uint32_t missed() const { return missed_; }

  bool running() const { return running_; }
  Millis every() const { return plan_.every(); }

 private:
  SweepPlan plan_;
  bool running_ = false;
  bool off_for_run_ = false;  // the list proved not to show finished exports
  bool window_ = false;       // the list dropped an unfinished job it had stood in for
  TimePoint retry_at_{};      // after the list was given up on: no sweep before this
  std::uint32_t failures_ = 0;   // list calls failed in a row
  TimePoint last_sweep_at_{};    // the latest sweep's pages read
  std::size_t pages_ = 0;        // the pages the latest sweep that listed every covered job read
  std::optional<TimePoint> tail_since_;  // sweeping fewer jobs than worth_it asks, since
  std::uint32_t confirmed_ = 0;  // jobs a sweep's "exported" ended (their read said 100 %)
  std::uint32_t missed_ = 0;     // swept jobs whose own read found them done before a sweep did
};

}  // namespace exportd
