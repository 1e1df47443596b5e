#include <gtest/gtest.h>

#include "auth/token_policy.hpp"
#include "schedule/backoff.hpp"
#include "schedule/poll_policy.hpp"
#include "schedule/request_budget.hpp"

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

TEST(PollPolicy, AimsAtThePredictedFinish) {
  PollPolicy p(polling());
  // 20 s in, 40 % done: 60 % left at 2 %/s is 30 s.
  EXPECT_EQ(p.next_poll(t0, 40, t0 + 20s), t0 + 20s + 30s);
  // 20 s in, 90 % done: ~2.2 s left, clamped up to min_interval.
  EXPECT_EQ(p.next_poll(t0, 90, t0 + 20s), t0 + 20s + 3s);
  // 20 s in, 5 % done: 380 s left, clamped down to max_interval.
  EXPECT_EQ(p.next_poll(t0, 5, t0 + 20s), t0 + 20s + 60s);
}

TEST(PollPolicy, AJobAt90PercentIsPolledSoonerThanOneAt5) {
  PollPolicy p(polling());
  EXPECT_LT(p.next_poll(t0, 90, t0 + 100s), p.next_poll(t0, 5, t0 + 100s));
}

TEST(PollPolicy, NoProgressYetWaitsAsLongAsTheJobIsOld) {
  PollPolicy p(polling());
  EXPECT_EQ(p.next_poll(t0, 0, t0 + 10s), t0 + 20s);
  EXPECT_EQ(p.next_poll(t0, 0, t0 + 1s), t0 + 1s + 3s);
  EXPECT_EQ(p.next_poll(t0, 0, t0 + 10min), t0 + 10min + 60s);
}

TEST(PollPolicy, NeverPollsPastTheDeadline) {
  PollPolicy p(polling());
  EXPECT_EQ(p.next_poll(t0, 1, t0 + 2h - 5s), t0 + 2h);
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

}  // namespace
}  // namespace exportd
