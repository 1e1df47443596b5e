#include <map>

#include <gtest/gtest.h>

#include "jobs/export_job.hpp"
#include "schedule/circuit_breaker.hpp"
#include "schedule/due_queue.hpp"
#include "schedule/poll_policy.hpp"
#include "schedule/request_budget.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
const TimePoint t0 = TimePoint{} + 1000h;
using V = CircuitBreaker::Verdict;

TEST(CircuitBreaker, StaysClosedWhileCallsSucceed) {
  CircuitBreaker b(Backoff(1s, 30s), 5);
  for (int i = 0; i < 4; ++i) b.on_failure(t0);
  b.on_success();  // the count is of failures in a row
  for (int i = 0; i < 4; ++i) b.on_failure(t0);
  EXPECT_FALSE(b.is_open());
  EXPECT_EQ(b.admit(t0).verdict, V::go);
}

TEST(CircuitBreaker, OpensThenLetsOneProbeAtATimeWithGrowingGaps) {
  CircuitBreaker b(Backoff(1s, 30s), 5);
  for (int i = 0; i < 5; ++i) b.on_failure(t0);
  ASSERT_TRUE(b.is_open());
  EXPECT_EQ(b.admit(t0).verdict, V::wait);
  EXPECT_EQ(b.admit(t0).until, t0 + 1s);
  EXPECT_EQ(b.admit(t0 + 1s).verdict, V::probe);
  EXPECT_EQ(b.admit(t0 + 1s).verdict, V::wait);  // only one probe in flight
  b.on_failure(t0 + 1s);                         // the probe failed
  EXPECT_EQ(b.next_probe(), t0 + 1s + 2s);
  EXPECT_EQ(b.admit(t0 + 3s).verdict, V::probe);
  b.on_failure(t0 + 3s);
  EXPECT_EQ(b.next_probe(), t0 + 3s + 4s);
  EXPECT_EQ(b.failed_probes(), 3u);
  EXPECT_EQ(b.admit(t0 + 7s).verdict, V::probe);
  b.on_success();
  EXPECT_FALSE(b.is_open());
  EXPECT_EQ(b.admit(t0 + 7s).verdict, V::go);
  EXPECT_EQ(b.failed_probes(), 0u);
}

TEST(CircuitBreaker, LateFailuresOfCallsSentBeforeItOpenedDoNotPushTheProbeBack) {
  CircuitBreaker b(Backoff(1s, 30s), 5);
  for (int i = 0; i < 5; ++i) b.on_failure(t0);
  for (int i = 0; i < 3; ++i) b.on_failure(t0 + 500ms);
  EXPECT_EQ(b.next_probe(), t0 + 1s);
}

TEST(CircuitBreaker, GapsAreCappedAndHoldOpensAtOnce) {
  CircuitBreaker b(Backoff(1s, 4s), 5);
  b.hold(t0);
  EXPECT_TRUE(b.is_open());
  EXPECT_EQ(b.admit(t0).until, t0 + 1s);
  for (int i = 0; i < 10; ++i) b.hold(t0);
  EXPECT_EQ(b.next_probe(), t0 + 4s);
}

// Three 429s in a row within a second: the API is throttling for real.
void throttle(RequestBudget& b, TimePoint at) {
  for (int i = 0; i < 3; ++i) b.on_reply(at, true);
}

TEST(RequestBudget, StrayThrottlingAmongGoodRepliesChangesNothing) {
  RequestBudget b(20, 30s);
  for (int i = 0; i < 100; ++i) b.on_reply(t0 + std::chrono::milliseconds(i * 5), i % 10 == 0);  // 10 % 429
  EXPECT_DOUBLE_EQ(b.rate(t0 + 1s), 20);
}

// Stray 429s at a low rate (a second of 10 replies, 3 of them 429 among the
// others: what 5 % random 429s give now and then) are not throttling: the rate stays. Cutting
// on them once made every later second smaller and likelier to look the same.
TEST(RequestBudget, StrayThrottlingAtALowRateChangesNothing) {
  RequestBudget b(20, 30s);
  for (int s = 0; s < 30; ++s)
    for (int i = 0; i < 10; ++i)
      b.on_reply(t0 + std::chrono::seconds(s) + std::chrono::milliseconds(i * 50), i == 2 || i == 5 || i == 8);
  EXPECT_DOUBLE_EQ(b.rate(t0 + 30s), 20);
  // Half of a second's replies throttled: that is the API asking for less
  // (cut at the fifth reply, the third 429, 200 ms into the second).
  for (int i = 0; i < 10; ++i) b.on_reply(t0 + 31s + std::chrono::milliseconds(i * 50), i % 2 == 0);
  EXPECT_NEAR(b.rate(t0 + 32s), 10 + 10 * (0.8 / 30), 1e-9);
}

TEST(RequestBudget, ThrottlingHalvesTheRateWhichThenRecovers) {
  RequestBudget b(20, 30s);
  EXPECT_DOUBLE_EQ(b.rate(t0), 20);
  throttle(b, t0);
  EXPECT_DOUBLE_EQ(b.rate(t0), 10);
  throttle(b, t0 + 100ms);  // the rest of the same episode
  EXPECT_DOUBLE_EQ(b.rate(t0 + 100ms), 10 + 10 * (0.1 / 30));
  EXPECT_NEAR(b.rate(t0 + 15s), 15, 1e-9);
  EXPECT_DOUBLE_EQ(b.rate(t0 + 30s), 20);
  throttle(b, t0 + 3s);  // a new episode: another cut from where it had climbed to
  EXPECT_NEAR(b.rate(t0 + 3s), (10 + 10 * (3.0 / 30)) / 2, 1e-9);
}

TEST(RequestBudget, ReservationsFollowTheReducedRate) {
  RequestBudget b(10, 30s);
  throttle(b, t0);  // 5 per second
  EXPECT_EQ(b.reserve(t0), t0);
  EXPECT_EQ(b.reserve(t0), t0 + 200ms);
}

TEST(RequestBudget, UnlimitedStartsFromTheRateSeenAndLiftsTheLimitWhenRecovered) {
  RequestBudget b(0, 10s);
  for (int i = 0; i < 100; ++i) b.reserve(t0 + std::chrono::milliseconds(i * 10));  // 100 in the first second
  b.reserve(t0 + 1s);
  throttle(b, t0 + 1s);
  EXPECT_DOUBLE_EQ(b.rate(t0 + 1s), 50);
  EXPECT_DOUBLE_EQ(b.rate(t0 + 11s), 0);  // unlimited again
}

TEST(DueQueues, EarliestFirstWithinALaneAndTurnsBetweenLanes) {
  DueQueues q;
  q.push(Lane::poll, t0 + 2s, 1);
  q.push(Lane::poll, t0 + 1s, 2);
  q.push(Lane::submit, t0 + 3s, 3);
  q.push(Lane::submit, t0 + 3s, 4);
  EXPECT_EQ(q.next(), t0 + 1s);
  EXPECT_FALSE(q.pop_due(t0));
  std::vector<std::uint32_t> order;
  while (auto j = q.pop_due(t0 + 5s)) order.push_back(j->job);
  EXPECT_EQ(order, (std::vector<std::uint32_t>{3, 2, 4, 1}));
  EXPECT_EQ(q.next(), TimePoint::max());
}

// Fair stretching: 100 jobs want a poll every 3 s but the budget allows 10
// calls a second. Simulated with a fake clock: every job's interval stretches
// to about 10 s, nobody starves, and submits arriving into the flood still go
// out at once, taking turns with the polls.
TEST(DueQueues, PollIntervalsStretchFairlyUnderTheBudgetAndSubmitsAreNotStarved) {
  DueQueues q;
  RequestBudget budget(10);
  PollPolicy policy({0s, 3s, 60s, 24h});
  ProgressTrack nearly_done;
  nearly_done.value = 100;  // the link is all it waits for
  std::map<std::uint32_t, std::vector<TimePoint>> polls;
  for (std::uint32_t j = 0; j < 100; ++j) q.push(Lane::poll, t0, j);
  TimePoint now = t0;
  std::vector<TimePoint> submitted;
  for (int step = 0; step < 1200; ++step) {
    if (step == 600)
      for (std::uint32_t j = 1000; j < 1010; ++j) q.push(Lane::submit, now, j);
    now = std::max(now, q.next());
    const auto due = q.pop_due(now);
    ASSERT_TRUE(due);
    const auto job = due->job;
    now = budget.reserve(now);  // the call goes out when the budget allows
    if (job >= 1000) {
      submitted.push_back(now);
      continue;
    }
    polls[job].push_back(now);
    q.push(Lane::poll, policy.next_poll(nearly_done, t0, now), job);  // wants min_interval
  }
  std::size_t fewest = SIZE_MAX, most = 0;
  for (const auto& [job, times] : polls) {
    fewest = std::min(fewest, times.size());
    most = std::max(most, times.size());
    for (std::size_t i = 2; i < times.size(); ++i) {
      const auto gap = times[i] - times[i - 1];
      EXPECT_GE(gap, 9s);   // stretched from 3 s ...
      EXPECT_LE(gap, 11s);  // ... alike for everyone
    }
  }
  EXPECT_EQ(polls.size(), 100u);
  EXPECT_LE(most - fewest, 1u);
  ASSERT_EQ(submitted.size(), 10u);
  EXPECT_LE(submitted.back() - submitted.front(), 2s);  // 10 submits among ~10 polls: about 2 s
}

TEST(JobMachine, ASubmitThatMayHaveTakenEffectIsVerifiedNotResent) {
  JobMachine m(PollPolicy({10s, 3s, 60s, 1h}), RetryPolicy({8, 1s, 30s}));
  ExportJob j;
  ApiError lost{Errc::transport, 0, "transport", "reading reply: end of stream", {}};
  lost.maybe_processed = true;
  m.on_failure(j, lost, t0, 0.5);
  EXPECT_EQ(j.state, JobState::in_doubt);
  EXPECT_EQ(m.step(j, j.due), StepKind::probe);
  auto ev = m.on_probe(j, std::string("p1"), t0 + 2s, 0.5);
  EXPECT_EQ(ev.kind, JobEvent::Kind::adopted);
  EXPECT_EQ(j.state, JobState::polling);
  EXPECT_EQ(j.project_id, "p1");

  ExportJob k;
  ApiError refused{Errc::transport, 0, "transport", "connect: refused", {}};
  m.on_failure(k, refused, t0, 0.5);
  EXPECT_EQ(k.state, JobState::queued);  // never left: plain retry
  ExportJob n;
  n.state = JobState::in_doubt;
  EXPECT_EQ(m.on_probe(n, std::nullopt, t0, 0.5).kind, JobEvent::Kind::resubmit);
  EXPECT_EQ(n.state, JobState::queued);
}

TEST(JobMachine, AnUnreachableApiIsNotHeldAgainstTheJob) {
  JobMachine m(PollPolicy({10s, 3s, 60s, 1h}), RetryPolicy({2, 1s, 30s}));
  ExportJob j;
  ApiError down{Errc::transport, 0, "transport", "connect: refused", {}};
  down.api_down = true;
  for (int i = 0; i < 50; ++i) {
    const auto ev = m.on_unavailable(j, down, t0 + 8s, t0);
    EXPECT_EQ(ev.kind, JobEvent::Kind::retrying);
  }
  EXPECT_EQ(j.state, JobState::queued);
  EXPECT_EQ(j.call_failures, 0);
  EXPECT_EQ(j.due, t0 + 8s);
}

}  // namespace
}  // namespace exportd
