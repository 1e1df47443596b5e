#include <optional>

#include <gtest/gtest.h>

#include "auth/token_policy.hpp"
#include "ops/time_format.hpp"
#include "schedule/backoff.hpp"
#include "schedule/poll_policy.hpp"
#include "schedule/request_budget.hpp"
#include "schedule/restart_rule.hpp"
#include "schedule/sweep.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
const TimePoint t0 = TimePoint{} + 1000h;  // a fake clock: time is what the test says

ApiError transient() { return {Errc::overloaded, 503, "http_503", "down", {}}; }

TEST(Backoff, CeilingDoublesUpToTheCap) {
  Backoff b(1s, 30s);
  EXPECT_EQ(b.ceiling(1), 1s);
  EXPECT_EQ(b.ceiling(2), 2s);
  EXPECT_EQ(b.ceiling(3), 4s);
  EXPECT_EQ(b.ceiling(5), 16s);
  EXPECT_EQ(b.ceiling(6), 30s);
  EXPECT_EQ(b.ceiling(60), 30s);  // no overflow however many attempts
}

TEST(Backoff, FullJitterSpansZeroToTheCeiling) {
  Backoff b(1s, 30s);
  EXPECT_EQ(b.delay(3, 0.0), 0ms);
  EXPECT_EQ(b.delay(3, 0.5), 2s);
  EXPECT_EQ(b.delay(3, 0.999), 3996ms);
  EXPECT_EQ(b.delay(3, 7.0), 4s);  // out-of-range randomness is clamped
  auto rnd = default_unit_random();
  for (int i = 0; i < 1000; ++i) {
    const auto d = b.delay(4, rnd());
    EXPECT_GE(d, 0ms);
    EXPECT_LE(d, 8s);
  }
}

TEST(RetryPolicy, TransientIsRetriedUntilAttemptsRunOut) {
  RetryPolicy p({3, 1s, 10s});
  EXPECT_TRUE(p.retry_after(transient(), 1, 0.5));
  EXPECT_TRUE(p.retry_after(transient(), 2, 0.5));
  EXPECT_FALSE(p.retry_after(transient(), 3, 0.5));
  for (auto kind : {Errc::transport, Errc::malformed}) {
    ApiError e{kind, 0, "x", "y", {}};
    EXPECT_TRUE(p.retry_after(e, 1, 0.5));
  }
}

TEST(RetryPolicy, PermanentAndFatalAreNeverRetried) {
  RetryPolicy p({8, 1s, 10s});
  for (auto kind : {Errc::rejected, Errc::unauthorized, Errc::tls, Errc::credentials}) {
    ApiError e{kind, 200, "x", "y", {}};
    EXPECT_FALSE(p.retry_after(e, 1, 0.5)) << to_string(kind);
  }
}

TEST(RetryPolicy, RetryAfterIsAFloor) {
  RetryPolicy p({8, 1s, 10s});
  ApiError e = transient();
  e.retry_after = 7s;
  EXPECT_EQ(p.retry_after(e, 1, 0.0), 7s);
  e.retry_after = 1h;  // honoured past max_backoff, as the README says
  EXPECT_EQ(p.retry_after(e, 1, 0.0), 1h);
  e.retry_after = 20h;  // an absurd hint waits the documented ceiling
  EXPECT_EQ(p.retry_after(e, 1, 0.0), retry_after_limit);
}

PollingSettings polling() { return {10s, 3s, 60s, 2h}; }

TEST(PollPolicy, FirstPollAfterTheConfiguredDelay) {
  PollPolicy p(polling());
  EXPECT_EQ(p.first_poll(t0), t0 + 10s);
  EXPECT_EQ(p.deadline(t0), t0 + 2h);
}

// The read after `reads` (time since the submit, progress), as the schedule sets it.
TimePoint next_after(const PollPolicy& p, std::initializer_list<std::pair<Millis, double>> reads,
                     ProgressTrack* out = nullptr) {
  ProgressTrack t;
  TimePoint now = t0;
  for (const auto& [at, v] : reads) {
    now = t0 + at;
    p.observe(t, v, t0, now);
  }
  if (out != nullptr) *out = t;
  return p.next_poll(t, t0, now);
}

TEST(PollPolicy, AimsAtThePredictedFinish) {
  PollPolicy p(polling());
  // 20 s in, 40 % done: 60 % left at 2 %/s is 30 s.
  EXPECT_EQ(next_after(p, {{20s, 40}}), t0 + 20s + 30s);
  // 20 s in, 90 % done: ~2.2 s left, clamped up to min_interval.
  EXPECT_EQ(next_after(p, {{20s, 90}}), t0 + 20s + 3s);
  // 20 s in, 5 % done: 380 s left, clamped down to max_interval.
  EXPECT_EQ(next_after(p, {{20s, 5}}), t0 + 20s + 60s);
}

TEST(PollPolicy, AJobAt90PercentIsPolledSoonerThanOneAt5) {
  PollPolicy p(polling());
  EXPECT_LT(next_after(p, {{100s, 90}}), next_after(p, {{100s, 5}}));
}

TEST(PollPolicy, NoProgressYetWaitsOneAndAHalfTimesTheJobsAge) {
  PollPolicy p(polling());
  EXPECT_EQ(next_after(p, {{10s, 0}}), t0 + 25s);
  EXPECT_EQ(next_after(p, {{1s, 0}}), t0 + 1s + 3s);
  EXPECT_EQ(next_after(p, {{10min, 0}}), t0 + 10min + 60s);
}

TEST(PollPolicy, MovementAfterAWaitAtZeroIsMeasuredBeforeItIsTrusted) {
  PollPolicy p(polling());
  ProgressTrack t;
  // At 0 % at 10 s and 15 s, 12.3 % at 25 s: it started somewhere in
  // (15 s, 25 s], at a rate nothing tells yet. Read again soon (0.15 of its age).
  EXPECT_EQ(next_after(p, {{10s, 0}, {15s, 0}, {25s, 12.3}}, &t), t0 + 25s + 3750ms);
  EXPECT_EQ(t.basis, ProgressTrack::Basis::one_point);
  EXPECT_LT(p.predicted_finish_ms(t), 0);
  // 42.3 % at 35 s: 30 % in 10 s, so the 57.7 % left take 19.23 s.
  EXPECT_EQ(next_after(p, {{10s, 0}, {15s, 0}, {25s, 12.3}, {35s, 42.3}}, &t), t0 + 35s + 19233ms);
  EXPECT_EQ(t.basis, ProgressTrack::Basis::rate);
}

TEST(PollPolicy, TimeWithoutMovementSlowsThePredictionDown) {
  PollPolicy p(polling());
  // 50 % at 10 s points at 20 s; still 50 % at 20 s: the rate is at most 50 % in 20 s.
  EXPECT_EQ(next_after(p, {{10s, 50}}), t0 + 20s);
  EXPECT_EQ(next_after(p, {{10s, 50}, {20s, 50}}), t0 + 40s);
}

TEST(PollPolicy, AStallDoesNotCountAgainstTheRateAfterIt) {
  PollPolicy p(polling());
  ProgressTrack t;
  // 61.3 % at 10 s, still there at 20, 40 and 60 s, 71.7 % at 70 s: the
  // rate after the stall is measured from where it moved again (one more
  // read), not from the submit.
  next_after(p, {{10s, 61.3}, {20s, 61.3}, {40s, 61.3}, {60s, 61.3}, {70s, 71.7}}, &t);
  EXPECT_EQ(t.basis, ProgressTrack::Basis::one_point);
  EXPECT_EQ(t.anchor, 71.7f);
  EXPECT_EQ(t.anchor_ms, 70'000);
  EXPECT_FALSE(t.coarse);
}

TEST(PollPolicy, StepsArePlacedBetweenTheReadsThatBracketThem) {
  PollPolicy p(polling());
  ProgressTrack t;
  // 25 % steps every 20 s: 25 % at 25 s (and still at 30 s), 50 % at 45 s.
  next_after(p, {{10s, 0}, {25s, 25}, {30s, 25}, {45s, 50}}, &t);
  EXPECT_TRUE(t.coarse);
  EXPECT_GT(p.predicted_finish_ms(t), 70'000);
  EXPECT_LT(p.predicted_finish_ms(t), 95'000);
}

TEST(PollPolicy, AJobInStepsIsClosedInOnByTheBracketItsReadsLeave) {
  PollPolicy p(polling());
  ProgressTrack t;
  // 25 % steps from the submit, finishing at 80 s. After these reads the
  // finish lies in (60 s, 90 s]: 25 % still at 30 s means 50 % is 30 s or
  // more in; 50 % at 45 s means 100 % at most 90 s in. The next read splits
  // that in half where the next step (75 %) would fall: 0.75 * 75 s.
  EXPECT_EQ(next_after(p, {{10s, 0}, {25s, 25}, {30s, 25}, {45s, 50}}, &t), t0 + 56250ms);
  EXPECT_EQ(t.finish_lo_ms, 60'000);
  EXPECT_EQ(t.finish_hi_ms, 90'000);
  // Still 50 % there: (75 s, 90 s]. 75 % at 61.875 s: (75 s, 82.5 s], the
  // last step; read one tolerance (4 % of 82.5 s) after the earliest finish.
  EXPECT_EQ(next_after(p, {{10s, 0}, {25s, 25}, {30s, 25}, {45s, 50}, {56250ms, 50}, {61875ms, 75}}, &t),
            t0 + 78300ms);
  // Still 75 % at 78.3 s: (78.3 s, 82.5 s] is still wider than 3.3 s, so
  // another tolerance in; still 75 % at 81.6 s: the rest is within the
  // tolerance, and the next read is the bracket's end, finished for sure
  // (0.9 s later, held back to min_interval: 84.6 s).
  EXPECT_EQ(next_after(p, {{10s, 0}, {25s, 25}, {30s, 25}, {45s, 50}, {56250ms, 50}, {61875ms, 75}, {78300ms, 75}}),
            t0 + 81600ms);
  EXPECT_EQ(next_after(p, {{10s, 0}, {25s, 25}, {30s, 25}, {45s, 50}, {56250ms, 50}, {61875ms, 75}, {78300ms, 75},
                           {81600ms, 75}}),
            t0 + 84600ms);
}

TEST(PollPolicy, AWholePercentReadIsNarrowedByOneMoreReadBeforeTheFinish) {
  PollPolicy p({10s, 3s, 2min, 2h});  // a max_interval that lets the wait reach the finish
  // 12.3 % at 10 s: floored to a tenth, the finish lies in (80.6 s, 81.3 s]:
  // read at its end.
  EXPECT_EQ(next_after(p, {{10s, 12.3}}), t0 + 81300ms);
  // 12 % at 10 s may be floored to a whole percent: (76.9 s, 83.3 s] is
  // wider than 3.3 s (4 % of 83.3 s), so first a read where the line
  // narrows it to that: 83.3 s * 83.3 s * 1 % / 3.3 s = 20.8 s. 26 % there
  // puts it in (77.2 s, 80.1 s]: read at its end.
  EXPECT_EQ(next_after(p, {{10s, 12}}), t0 + 20833ms);
  EXPECT_EQ(next_after(p, {{10s, 12}, {20833ms, 26}}), t0 + 80126ms);
}

// A job in steps of 25 % after a first jump of 50: when 75 % shows, the
// last read at 50 % (76.9 s) is narrowed again with the step now known, so
// the finish lies in (102.5 s, 109.2 s] (75 % came after 76.9 s, at 3/4 of
// the time), not from 81.9 s on: the next read is one tolerance (4 % of
// 109.2 s) into that, at 106.9 s, not a string of reads from 86 s.
TEST(PollPolicy, AStepFoundSmallerNarrowsTheFinishFromTheReadBeforeIt) {
  PollPolicy p(polling());
  const auto next = next_after(p, {{10s, 0}, {25s, 0}, {62500ms, 50}, {71900ms, 50}, {76900ms, 50}, {81900ms, 75}});
  EXPECT_NEAR(std::chrono::duration<double>(next - t0).count(), 106.9, 0.05);
}

// However sure the prediction, max_interval is a ceiling: the same read
// with the default 60 s waits no longer than that.
TEST(PollPolicy, ATrustedPredictionWaitsNoLongerThanMaxInterval) {
  PollPolicy p(polling());
  EXPECT_EQ(next_after(p, {{10s, 12.3}}), t0 + 70s);
}

TEST(PollPolicy, ASlowStartThatSpeedsUpIsReadBeforeItsRatesWouldSay) {
  PollPolicy p(polling());
  // 0.6 % at 10 s, 18.1 % at 25 s: the latest stretch is 1.6 times the
  // whole run's rate. Either rate puts the finish past max_interval; progress
  // growing as a power of the time (here t^3.72) reaches 100 % at 39.6 s.
  const auto next = next_after(p, {{10s, 0.6}, {25s, 18.1}});
  EXPECT_NEAR(std::chrono::duration<double>(next - t0).count(), 39.59, 0.05);
}

TEST(PollPolicy, HundredPercentWithoutALinkIsReadAgainSoon) {
  PollPolicy p(polling());
  EXPECT_EQ(next_after(p, {{10s, 50}, {20s, 100}}), t0 + 23s);
}

TEST(PollPolicy, NeverPollsPastTheDeadline) {
  PollPolicy p(polling());
  EXPECT_EQ(next_after(p, {{2h - 5s, 1}}), t0 + 2h);
}

TEST(RequestBudget, PacesCallsEvenly) {
  RequestBudget b(4);  // one every 250 ms
  EXPECT_EQ(b.reserve(t0), t0);
  EXPECT_EQ(b.reserve(t0), t0 + 250ms);
  EXPECT_EQ(b.reserve(t0), t0 + 500ms);
  EXPECT_EQ(b.reserve(t0 + 100ms), t0 + 750ms);
  // After a quiet spell no burst is saved up.
  EXPECT_EQ(b.reserve(t0 + 10s), t0 + 10s);
  EXPECT_EQ(b.reserve(t0 + 10s), t0 + 10s + 250ms);
}

TEST(RequestBudget, NoMoreThanTheRateInAnySecond) {
  RequestBudget b(25);
  std::vector<TimePoint> slots;
  for (int i = 0; i < 200; ++i) slots.push_back(b.reserve(t0 + std::chrono::milliseconds(i * 3)));
  for (std::size_t i = 25; i < slots.size(); ++i) EXPECT_GE(slots[i] - slots[i - 25], 1s);
}

// No export seen yet: no prediction says a hook came while down, so a job is
// read at once only when its safety read is due; otherwise at the safety
// read it would have had (every safety_poll from its submit).
TEST(RestartRule, WithNoExportSeenOnlyTheSafetyScheduleReads) {
  const auto now = std::chrono::system_clock::time_point{} + 1000h;
  RestartFacts facts;
  facts.last_alive = now - 1min;
  EXPECT_FALSE(read_after_restart(now - 2s, now, facts));
  EXPECT_FALSE(read_after_restart(now - 1h, now, facts));
  // Submitted 2 s ago: its first safety read is 10 min after the submit.
  EXPECT_EQ(first_read_after_restart(now - 2s, now, facts, 10min), now - 2s + 10min);
  // Submitted 9 min ago, up until 1 min ago: no read yet, due in 1 min.
  EXPECT_EQ(first_read_after_restart(now - 9min, now, facts, 10min), now + 1min);
  // Submitted 10.5 min ago: its safety read fell in the downtime: now.
  EXPECT_EQ(first_read_after_restart(now - 630s, now, facts, 10min), now);
  // Submitted 25 min ago: read at 10 and 20 min (while up), next at 30: in 5 min.
  EXPECT_EQ(first_read_after_restart(now - 25min, now, facts, 10min), now + 5min);
}

TEST(RestartRule, OnlyAJobWhoseFinishMayFallInTheDowntimeIsRead) {
  const auto now = std::chrono::system_clock::time_point{} + 1000h;
  RestartFacts facts;
  facts.last_alive = now - 1min;  // down for the last minute
  facts.saw_export(80s);
  facts.saw_export(60s);
  facts.saw_export(100s);
  ASSERT_TRUE(facts.seen);
  EXPECT_EQ(facts.seen->shortest, 60s);
  EXPECT_EQ(facts.seen->longest, 100s);
  // Hooks are expected 30 s to 200 s after the submit (a factor of two each way).
  EXPECT_FALSE(read_after_restart(now - 29s, now, facts));  // not before 1 s from now
  EXPECT_TRUE(read_after_restart(now - 30s, now, facts));
  EXPECT_TRUE(read_after_restart(now - 4min, now, facts));   // due by 20 s ago: in the downtime
  EXPECT_TRUE(read_after_restart(now - 260s, now, facts));   // due by the moment it went down
  EXPECT_FALSE(read_after_restart(now - 261s, now, facts));  // due while it was up: lost, the safety poll's
  // ... which comes 10 min after its submit, not at once.
  EXPECT_EQ(first_read_after_restart(now - 261s, now, facts, 10min), now - 261s + 10min);
  EXPECT_EQ(first_read_after_restart(now - 4min, now, facts, 10min), now);
  EXPECT_EQ(first_read_after_restart(now - 29s, now, facts, 10min), now - 29s + 10min);
}

TEST(TimeFormat, Rfc3339ReadsWhatItWrites) {
  const auto t = std::chrono::system_clock::time_point{} + 1'795'000'000'123ms;
  const auto text = rfc3339(t);
  EXPECT_EQ(text, "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(parse_rfc3339(text), t);
  EXPECT_EQ(parse_rfc3339("2026-11-18T11:06:40Z"), t - 123ms);
  EXPECT_EQ(parse_rfc3339("2026-11-18T11:06:40.123456Z"), t);
  EXPECT_FALSE(parse_rfc3339("2026-11-18T11:06:40.123+01:00"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
  EXPECT_FALSE(parse_rfc3339(""));
}

TEST(RequestBudget, ZeroMeansUnlimited) {
  RequestBudget b(0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.reserve(t0), t0);
}

TEST(TokenPolicy, RenewsWhenMissingAndAfterRefreshAge) {
  TokenPolicy p(23h);
  EXPECT_TRUE(p.must_renew(t0));
  p.on_issued("t1", t0);
  EXPECT_FALSE(p.must_renew(t0 + 22h));
  EXPECT_TRUE(p.must_renew(t0 + 23h));
}

TEST(TokenPolicy, ARefusalDropsOnlyTheTokenThatWasRefused) {
  TokenPolicy p(23h);
  p.on_issued("t1", t0);
  p.on_rejected("t0-old");  // a call that started before t1 came back refused
  EXPECT_FALSE(p.must_renew(t0 + 1s));
  p.on_rejected("t1");
  EXPECT_TRUE(p.must_renew(t0 + 1s));
}

// One sweep's pages: followed while a reply says there are more and some
// covered job is not listed yet, never past one call per 10 covered jobs,
// never twice to the same page, never when the reply ignores the page asked.
TEST(ListPager, FollowsThePagesARepliesNamesWithinBounds) {
  ListPaging paged;
  paged.total = 120;
  paged.page = 1;
  paged.size = 50;
  {
    ListPager pager(100);  // up to 10 pages
    const ListQuery first;
    auto next = pager.next(first, paged, 50, 40);
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, (ListQuery{2, 50, ""}));
    paged.page = 2;
    next = pager.next(*next, paged, 50, 10);
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, (ListQuery{3, 50, ""}));
    paged.page = 3;
    EXPECT_FALSE(pager.next(*next, paged, 20, 5)) << "the total is reached";
    EXPECT_EQ(pager.pages(), 3u);
  }
  paged.page = 1;
  EXPECT_FALSE(ListPager(100).next({}, paged, 50, 0)) << "every covered job is listed";
  EXPECT_FALSE(ListPager(100).next({}, paged, 0, 40)) << "an empty page";
  EXPECT_FALSE(ListPager(10).next({}, paged, 50, 40)) << "one call per 10 jobs: 10 jobs, one page";
  {
    ListPager pager(100);
    auto next = pager.next({}, paged, 50, 40);
    ASSERT_TRUE(next);
    EXPECT_FALSE(pager.next(*next, paged, 50, 40)) << "asked for page 2, answered page 1: the paging is ignored";
  }
  ListPaging bare;  // nothing says there is more
  EXPECT_FALSE(ListPager(100).next({}, bare, 50, 40));
  ListPaging numbered;
  numbered.next_page = 2;
  {
    ListPager pager(100);
    auto next = pager.next({}, numbered, 50, 40);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->page, 2u);
    EXPECT_FALSE(pager.next(*next, numbered, 50, 40)) << "the same page named again: a loop";
  }
  ListPaging cursor;
  cursor.next_target = "/api/odin/v3/editor/project?cursor=a";
  {
    ListPager pager(100);
    auto next = pager.next({}, cursor, 50, 40);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->next_target, cursor.next_target);
    EXPECT_FALSE(pager.next(*next, cursor, 50, 40)) << "the same cursor again";
    cursor.next_target.clear();
    cursor.more = false;
    EXPECT_FALSE(ListPager(100).next({}, cursor, 50, 40)) << "hasMore: false";
  }
  ListPaging full;  // a page number and a full page, no total: more may follow
  full.page = 1;
  full.size = 50;
  EXPECT_TRUE(ListPager(100).next({}, full, 50, 40));
  EXPECT_FALSE(ListPager(100).next({}, full, 49, 40)) << "a short page is the last";
}

// A list that refuses is given up on after 3 calls in a row; one that
// fails now and then (5xx, dropped connections) only after 8: handing the
// jobs back costs each a read at once.
TEST(SweepPlan, AFailingListIsGivenUpOnSoonerWhenItRefusesThanWhenItFaults) {
  EXPECT_FALSE(SweepPlan::gives_up(2, false));
  EXPECT_TRUE(SweepPlan::gives_up(3, false));
  EXPECT_FALSE(SweepPlan::gives_up(3, true));
  EXPECT_FALSE(SweepPlan::gives_up(7, true));
  EXPECT_TRUE(SweepPlan::gives_up(8, true));
}

TEST(SweepPlan, SweepsStartAtSweepMinJobsAndRunToAThirdOfThat) {
  PollingSettings s;  // every 1 s, from 30 jobs
  const SweepPlan plan(s);
  EXPECT_FALSE(plan.worth_it(29, false));
  EXPECT_TRUE(plan.worth_it(30, false));
  EXPECT_TRUE(plan.worth_it(10, true)) << "the end of a batch is swept to its last few jobs";
  EXPECT_FALSE(plan.worth_it(9, true));
  EXPECT_EQ(plan.every(), 1s);
  s.sweep_every = Millis(0);
  EXPECT_FALSE(SweepPlan(s).worth_it(100'000, true)) << "sweep_every 0: never";
  s.sweep_every = 1s;
  s.sweep_min_jobs = 0;
  EXPECT_FALSE(SweepPlan(s).worth_it(100'000, false)) << "sweep_min_jobs 0: never";
}

TEST(SweepPlan, TheListIsGivenUpOnOnceItMissesThreeFinishesAndMoreThanItCaught) {
  EXPECT_FALSE(SweepPlan::list_misses_finishes(2, 0)) << "two misses: a finish between sweeps may happen";
  EXPECT_TRUE(SweepPlan::list_misses_finishes(3, 0));
  EXPECT_TRUE(SweepPlan::list_misses_finishes(3, 2));
  EXPECT_FALSE(SweepPlan::list_misses_finishes(3, 3)) << "it caught as many as it missed";
  EXPECT_FALSE(SweepPlan::list_misses_finishes(10, 250));
}

TEST(SweepPlan, OneReadPerExportedUnlessTheListShowedItUnfinishedInBetween) {
  SweepMark m = SweepMark::unseen;
  EXPECT_FALSE(SweepPlan::take_listing(m, false));
  EXPECT_EQ(m, SweepMark::unfinished);
  EXPECT_TRUE(swept(m));
  EXPECT_TRUE(SweepPlan::take_listing(m, true)) << "exported: read it now";
  EXPECT_EQ(m, SweepMark::hinted);
  EXPECT_FALSE(SweepPlan::take_listing(m, true)) << "still exported: the read is due already";
  EXPECT_FALSE(SweepPlan::take_listing(m, false));
  EXPECT_TRUE(SweepPlan::take_listing(m, true)) << "unfinished in between: a new finish";

  // Exported at its first listing (a quick export, or a state not yet changed): read once.
  SweepMark first = SweepMark::unseen;
  EXPECT_TRUE(SweepPlan::take_listing(first, true));
  // ... and that read found it unfinished: the list is not believed for it again.
  SweepPlan::read_unfinished(first);
  EXPECT_EQ(first, SweepMark::excluded);
  EXPECT_FALSE(swept(first));
  EXPECT_FALSE(SweepPlan::take_listing(first, false));
  EXPECT_FALSE(SweepPlan::take_listing(first, true));
  SweepPlan::not_listed(first);
  EXPECT_EQ(first, SweepMark::excluded);

  // An unfinished read of a job the list did not call exported changes nothing.
  SweepMark plain = SweepMark::unfinished;
  SweepPlan::read_unfinished(plain);
  EXPECT_EQ(plain, SweepMark::unfinished);
  SweepPlan::not_listed(plain);
  EXPECT_EQ(plain, SweepMark::unlisted);
  EXPECT_FALSE(swept(plain));
  EXPECT_FALSE(SweepPlan::take_listing(plain, false));
  EXPECT_TRUE(swept(plain)) << "listed again";
}

// What one sweep's list means for each job it covers.
TEST(SweepPlan, EachListingSaysWhetherTheJobIsReadNowLeftToTheListOrHandedBack) {
  using L = SweepPlan::Listing;
  SweepMark m = SweepMark::unseen;
  EXPECT_EQ(SweepPlan::take(m, std::nullopt, true, true), L::none) << "never listed: its own schedule, as it was";
  EXPECT_EQ(m, SweepMark::unlisted);
  EXPECT_EQ(SweepPlan::take(m, false, true, true), L::safety_net) << "newly listed: its own reads become a safety net";
  EXPECT_EQ(SweepPlan::take(m, false, true, true), L::none);
  EXPECT_EQ(SweepPlan::take(m, std::nullopt, false, true), L::none) << "its page failed: it keeps its mark";
  EXPECT_EQ(m, SweepMark::unfinished);
  EXPECT_EQ(SweepPlan::take(m, true, true, true), L::confirm_swept) << "seen unfinished before: the lag counts from then";
  EXPECT_EQ(SweepPlan::take(m, true, true, true), L::none) << "its read is due already";
  EXPECT_EQ(SweepPlan::take(m, std::nullopt, true, true), L::hand_back) << "swept, no longer listed: read on its own now";
  EXPECT_EQ(SweepPlan::take(m, true, true, true), L::confirm) << "exported at its first listing: read, lag from its reads";
}

// Issue 25, H13: a list that leaves some covered jobs out (its newest N
// only) gives hints and nothing more: a job it lists unfinished keeps its
// own reads (or gets them back at once), one it lists exported is read now.
TEST(SweepPlan, AListThatLeavesJobsOutOnlyHintsEveryJobKeepsItsOwnReads) {
  using L = SweepPlan::Listing;
  SweepMark m = SweepMark::unseen;
  EXPECT_EQ(SweepPlan::take(m, false, true, false), L::none) << "listed unfinished: its own schedule goes on";
  EXPECT_FALSE(swept(m));
  EXPECT_EQ(SweepPlan::take(m, true, true, false), L::confirm) << "listed exported: read now";
  EXPECT_EQ(m, SweepMark::hinted);
  SweepMark was_swept = SweepMark::unfinished;  // swept while the list still showed the whole batch
  EXPECT_EQ(SweepPlan::take(was_swept, false, true, false), L::hand_back) << "its own reads back, now";
  EXPECT_FALSE(swept(was_swept));
  SweepMark excluded = SweepMark::excluded;
  EXPECT_EQ(SweepPlan::take(excluded, false, true, false), L::none);
  EXPECT_EQ(excluded, SweepMark::excluded);
  // A later page failed: the pages read are not taken for a partial list.
  SweepMark kept = SweepMark::unfinished;
  EXPECT_EQ(SweepPlan::take(kept, false, false, false), L::none);
  EXPECT_TRUE(swept(kept));
}

// A list is taken for a window once it drops an unfinished job it stood in
// for; until then a list that leaves jobs out is taken for a filter.
TEST(SweepMachine, AListIsAWindowOnceItDropsAJobItStoodInFor) {
  SweepMachine m(PollingSettings{});
  EXPECT_FALSE(m.window());
  m.on_dropped();
  EXPECT_TRUE(m.window());
  m.reconfigure(PollingSettings{});
  EXPECT_TRUE(m.window()) << "what the list is does not change with the settings";
}

// The sweeps of a run in fake time: on at sweep_min_jobs, off below a third.
TEST(SweepMachine, SweepsRunFromSweepMinJobsToAThirdOfThatOnASteadyBeat) {
  SweepMachine m(PollingSettings{});  // every 1 s, from 30 jobs
  const TimePoint t0{};
  EXPECT_EQ(m.next(t0, 29).kind, SweepMachine::Next::Kind::wait) << "too few: until a submit";
  auto n = m.next(t0, 30);
  EXPECT_EQ(n.kind, SweepMachine::Next::Kind::sweep);
  EXPECT_TRUE(n.starts);
  EXPECT_TRUE(m.running());
  n = m.next(t0 + 1s, 10);
  EXPECT_EQ(n.kind, SweepMachine::Next::Kind::sweep);
  EXPECT_FALSE(n.starts) << "already on";
  EXPECT_EQ(m.next_beat(t0, true, t0 + 300ms), t0 + 1s) << "a steady beat from the sweep's start";
  EXPECT_EQ(m.next_beat(t0, true, t0 + 1500ms), t0 + 1500ms) << "a sweep longer than the beat: the next at once";
  // Below a third: the tail of a batch, swept on for up to a minute rather
  // than handed back mid-life; stragglers after that are handed back.
  EXPECT_EQ(m.next(t0 + 2s, 9).kind, SweepMachine::Next::Kind::sweep);
  EXPECT_EQ(m.next(t0 + 61s, 3).kind, SweepMachine::Next::Kind::sweep);
  EXPECT_EQ(m.next(t0 + 62s, 3).kind, SweepMachine::Next::Kind::stop) << "a minute of tail";
  EXPECT_FALSE(m.running());
  EXPECT_EQ(m.next(t0 + 62s, 3).kind, SweepMachine::Next::Kind::wait);
  EXPECT_TRUE(m.next(t0 + 63s, 30).starts);
  EXPECT_EQ(m.next(t0 + 64s, 5).kind, SweepMachine::Next::Kind::sweep) << "a new tail, a new minute";
  EXPECT_EQ(m.next(t0 + 65s, 10).kind, SweepMachine::Next::Kind::sweep);
  EXPECT_EQ(m.next(t0 + 100s, 5).kind, SweepMachine::Next::Kind::sweep) << "the minute counts from the latest tail";
  EXPECT_EQ(m.next(t0 + 101s, 0).kind, SweepMachine::Next::Kind::stop) << "nothing left to sweep";
}

// A list call that fails: its first page is tried again within the beat, a
// later page leaves what was read standing, and 8 faults (3 refusals) in a
// row turn sweeps off for a minute.
TEST(SweepMachine, AFailingListIsRetriedWithinTheBeatThenGivenUpOnForAMinute) {
  SweepMachine m(PollingSettings{});
  const TimePoint t0{};
  ASSERT_TRUE(m.next(t0, 100).starts);
  auto f = m.on_failure(t0, true, 0);
  EXPECT_EQ(f.kind, SweepMachine::Failed::retry);
  EXPECT_EQ(m.next_beat(t0, false, t0 + 100ms), t0 + 350ms) << "a quarter beat after the failure";
  f = m.on_failure(t0, true, 2);
  EXPECT_EQ(f.kind, SweepMachine::Failed::partial) << "pages 1-2 were read";
  EXPECT_EQ(f.in_a_row, 2u);
  m.on_page();  // a page read: the count starts again
  for (int i = 1; i < 8; ++i) ASSERT_NE(m.on_failure(t0, true, 0).kind, SweepMachine::Failed::give_up) << i;
  f = m.on_failure(t0 + 5s, true, 0);
  EXPECT_EQ(f.kind, SweepMachine::Failed::give_up);
  EXPECT_EQ(f.in_a_row, 8u);
  EXPECT_FALSE(m.running());
  const auto n = m.next(t0 + 6s, 100);
  EXPECT_EQ(n.kind, SweepMachine::Next::Kind::wait_until);
  EXPECT_EQ(n.at, t0 + 65s);
  EXPECT_TRUE(m.next(t0 + 65s, 100).starts);
  for (int i = 1; i < 3; ++i) ASSERT_NE(m.on_failure(t0, false, 0).kind, SweepMachine::Failed::give_up);
  EXPECT_EQ(m.on_failure(t0 + 70s, false, 0).kind, SweepMachine::Failed::give_up) << "a refusal: after 3";
}

TEST(SweepMachine, WhileSweepsRunANewJobsFirstReadWaitsTwoBeats) {
  SweepMachine m(PollingSettings{});  // every 1 s
  const TimePoint t0{};
  EXPECT_EQ(m.first_read(t0 + 1s, t0), t0 + 1s) << "sweeps off: its own schedule";
  ASSERT_TRUE(m.next(t0, 100).starts);
  EXPECT_EQ(m.first_read(t0 + 1s, t0), t0 + 2s);
  EXPECT_EQ(m.first_read(t0 + 10s, t0), t0 + 10s) << "later already";
}

// A list that does not show finishes (jobs it showed unfinished found done
// by their own reads): sweeps are off for the rest of the run.
TEST(SweepMachine, AListThatMissesFinishesTurnsSweepsOffForTheRun) {
  const TimePoint t0{};
  SweepMachine m(PollingSettings{});
  ASSERT_TRUE(m.next(t0, 100).starts);
  EXPECT_FALSE(m.on_done(SweepMark::unfinished));
  EXPECT_FALSE(m.on_done(SweepMark::unseen)) << "not swept: nothing to hold against the list";
  EXPECT_FALSE(m.on_done(SweepMark::unfinished));
  EXPECT_TRUE(m.on_done(SweepMark::unfinished));
  EXPECT_EQ(m.missed(), 3u);
  EXPECT_FALSE(m.running());
  EXPECT_EQ(m.next(t0 + 1h, 100'000).kind, SweepMachine::Next::Kind::wait) << "never again this run";

  SweepMachine caught(PollingSettings{});
  ASSERT_TRUE(caught.next(t0, 100).starts);
  for (int i = 0; i < 3; ++i) caught.on_done(SweepMark::hinted);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(caught.on_done(SweepMark::unfinished)) << "it caught as many as it missed";
  EXPECT_TRUE(caught.running());
}

// As a batch ends, its last jobs are spread over all the pages its first
// sweeps read: a sweep reads as many pages as the latest one that listed
// every job, not one per 10 jobs left (which handed the far pages' jobs
// back mid-life, with nothing to predict their finish from).
TEST(SweepMachine, ASweepReadsAsManyPagesAsTheLatestThatListedEveryJob) {
  const TimePoint t0{};
  SweepMachine m(PollingSettings{});
  ListPaging paged;
  paged.total = 300;
  paged.size = 50;
  const auto pages_read = [&](std::size_t covered) {
    auto pager = m.begin(covered);
    ListQuery q;
    for (std::uint32_t page = 1;; ++page) {
      paged.page = page;
      auto next = pager.next(q, paged, 50, 1);  // a covered job is still not listed
      if (!next) return pager.pages();
      q = *next;
    }
  };
  EXPECT_EQ(pages_read(300), 6u) << "all the pages there are";
  EXPECT_EQ(pages_read(20), 2u) << "no sweep yet that listed every job: one call per 10 jobs";
  EXPECT_EQ(m.on_swept(t0, 6, true), TimePoint{});
  EXPECT_EQ(pages_read(20), 6u);
  EXPECT_EQ(m.on_swept(t0 + 1s, 2, false), t0) << "the sweep before: the last sight of its jobs unfinished";
  EXPECT_EQ(pages_read(20), 6u) << "a sweep that did not list every job changes nothing";
  m.on_swept(t0 + 2s, 3, true);
  EXPECT_EQ(pages_read(20), 3u);
}

}  // namespace
}  // namespace exportd
