#include <gtest/gtest.h>

#include "jobs/export_job.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
const TimePoint t0 = TimePoint{} + 1000h;

JobMachine machine(std::uint32_t max_attempts = 4) {
  return JobMachine(PollPolicy({10s, 3s, 60s, 30min}), RetryPolicy({max_attempts, 1s, 30s}));
}

ApiError error(Errc k, std::string code = "c") { return {k, 0, std::move(code), "m", {}}; }
ProgressReply progress(double p, std::string url = "") { return {p, std::move(url), ""}; }

TEST(JobMachine, HappyPathSubmitPollSucceed) {
  auto m = machine();
  ExportJob j;
  EXPECT_EQ(m.step(j, t0), StepKind::submit);
  auto e = m.on_submitted(j, {"pid-2"}, t0);
  EXPECT_EQ(e.kind, JobEvent::Kind::submitted);
  EXPECT_EQ(j.state, JobState::polling);
  EXPECT_EQ(j.project_id, "pid-2");  // the id the API answered is the one polled
  EXPECT_EQ(j.due, t0 + 10s);
  EXPECT_EQ(m.step(j, j.due), StepKind::poll);

  e = m.on_progress(j, progress(50), t0 + 10s);
  EXPECT_EQ(e.kind, JobEvent::Kind::progress);
  EXPECT_EQ(j.due, t0 + 20s);  // 50 % in 10 s: the rest in 10 s
  EXPECT_FLOAT_EQ(j.progress, 50);

  e = m.on_progress(j, progress(100, "https://cdn/v.mp4"), t0 + 20s);
  EXPECT_EQ(e.kind, JobEvent::Kind::succeeded);
  EXPECT_EQ(e.download_url, "https://cdn/v.mp4");
  EXPECT_EQ(j.state, JobState::succeeded);
  EXPECT_EQ(m.step(j, t0 + 1h), StepKind::nothing);
}

TEST(JobMachine, HundredPercentWithoutUrlIsPolledAgainSoon) {
  auto m = machine();
  ExportJob j;
  m.on_submitted(j, {"p"}, t0);
  auto e = m.on_progress(j, progress(100), t0 + 30s);
  EXPECT_EQ(e.kind, JobEvent::Kind::progress);
  EXPECT_EQ(j.due, t0 + 33s);
}

TEST(JobMachine, TransientFailuresThenSuccess) {
  // 429 -> 5xx -> bad body -> accepted, each retry later than the last ceiling allows.
  auto m = machine();
  ExportJob j;
  TimePoint now = t0;
  ApiError e429 = error(Errc::overloaded, "http_429");
  e429.retry_after = 5s;
  auto ev = m.on_failure(j, e429, now, 0.0);
  EXPECT_EQ(ev.kind, JobEvent::Kind::retrying);
  EXPECT_EQ(ev.delay, 5s);  // Retry-After beats a zero jitter draw
  EXPECT_EQ(j.due, now + 5s);
  now = j.due;
  ev = m.on_failure(j, error(Errc::overloaded, "http_503"), now, 1.0);
  EXPECT_EQ(ev.delay, 2s);  // second failure: ceiling 2 s
  now = j.due;
  ev = m.on_failure(j, error(Errc::malformed), now, 1.0);
  EXPECT_EQ(ev.delay, 4s);
  EXPECT_EQ(j.state, JobState::queued);
  EXPECT_EQ(m.step(j, j.due), StepKind::submit);
  m.on_submitted(j, {"p"}, j.due);
  EXPECT_EQ(j.call_failures, 0);  // a success resets the count for the next call
}

TEST(JobMachine, PermanentFailureEndsTheJobAtOnce) {
  auto m = machine();
  ExportJob j;
  auto ev = m.on_failure(j, error(Errc::rejected, "PROJECT_NOT_FOUND"), t0, 0.5);
  EXPECT_EQ(ev.kind, JobEvent::Kind::failed);
  EXPECT_EQ(ev.error->code, "PROJECT_NOT_FOUND");
  EXPECT_EQ(j.state, JobState::failed);
}

TEST(JobMachine, RetriesRunOutWithTheLastError) {
  auto m = machine(3);
  ExportJob j;
  m.on_failure(j, error(Errc::transport, "a"), t0, 0.5);
  m.on_failure(j, error(Errc::transport, "b"), t0, 0.5);
  auto ev = m.on_failure(j, error(Errc::transport, "c"), t0, 0.5);
  EXPECT_EQ(ev.kind, JobEvent::Kind::failed);
  EXPECT_EQ(ev.error->code, "c");
}

TEST(JobMachine, FailAtEachStepOfALongJob) {
  // For every step n of a job polled five times, a transient failure at n
  // delays it and a permanent one ends it; no other step is affected.
  for (int fail_at = 0; fail_at < 7; ++fail_at) {
    for (bool permanent : {false, true}) {
      auto m = machine();
      ExportJob j;
      TimePoint now = t0;
      int step = 0;
      const double progresses[] = {10, 30, 50, 70, 90, 100};
      int poll = 0;
      while (!is_terminal(j.state)) {
        ASSERT_LT(step, 20);
        const auto kind = m.step(j, now);
        if (step++ == fail_at) {
          m.on_failure(j, error(permanent ? Errc::rejected : Errc::overloaded), now, 0.5);
        } else if (kind == StepKind::submit) {
          m.on_submitted(j, {"p"}, now);
        } else {
          ASSERT_EQ(kind, StepKind::poll);
          const double p = progresses[poll++];
          m.on_progress(j, progress(p, p >= 100 ? "u" : ""), now);
        }
        now = std::max(now, j.due);
      }
      EXPECT_EQ(j.state, permanent ? JobState::failed : JobState::succeeded)
          << "fail_at=" << fail_at << " permanent=" << permanent;
    }
  }
}

TEST(JobMachine, DeadlineEndsAJobAsTimedOut) {
  auto m = machine();
  ExportJob j;
  m.on_submitted(j, {"p"}, t0);
  TimePoint now = j.due;
  while (m.step(j, now) == StepKind::poll) {
    m.on_progress(j, progress(1), now);
    ASSERT_LE(j.due, t0 + 30min);
    now = j.due;
  }
  EXPECT_EQ(now, t0 + 30min);
  EXPECT_EQ(m.step(j, now), StepKind::expire);
  auto ev = m.expire(j);
  EXPECT_EQ(ev.kind, JobEvent::Kind::timed_out);
  EXPECT_EQ(j.state, JobState::timed_out);
}

TEST(JobMachine, RetryingAPollNeverSkipsTheDeadline) {
  auto m = machine();
  ExportJob j;
  m.on_submitted(j, {"p"}, t0);
  ApiError slow = error(Errc::overloaded);
  slow.retry_after = 1h;
  m.on_failure(j, slow, t0 + 29min + 45s, 0.5);  // a 30 s wait would end past the deadline
  EXPECT_EQ(j.due, t0 + 30min);
}

TEST(JobMachine, AFailedStateFromTheApiEndsTheJob) {
  auto m = machine();
  ExportJob j;
  m.on_submitted(j, {"p"}, t0);
  ProgressReply r{40, "", "failed"};
  auto ev = m.on_progress(j, r, t0 + 10s);
  EXPECT_EQ(ev.kind, JobEvent::Kind::failed);
  EXPECT_EQ(ev.error->code, "export_failed");
}

// 100,000 jobs in memory: the job's state (its progress track included) stays small.
TEST(JobMachine, ASweptJobIsReadOnlyAsASafetyNetUntilTheListIsWrongAboutIt) {
  auto m = machine();
  ExportJob j;
  m.on_submitted(j, {"p"}, t0);
  EXPECT_EQ(j.sweep, SweepMark::unseen);
  EXPECT_EQ(j.due, t0 + 10s);
  // The first sweep lists it unfinished: its first read becomes the safety net.
  EXPECT_FALSE(SweepPlan::take_listing(j.sweep, false));
  ASSERT_TRUE(m.on_swept(j, t0 + 1s));
  EXPECT_EQ(j.due, t0 + 1s + 10min);
  m.on_progress(j, progress(40), t0 + 2s);
  EXPECT_EQ(j.due, t0 + 2s + 10min) << "a read of a swept job changes nothing";
  // Listed as exported: read now; the read says 60 %, so the list was wrong
  // about it and its own schedule takes over (never as late as the safety net).
  ASSERT_TRUE(SweepPlan::take_listing(j.sweep, true));
  ASSERT_TRUE(m.on_hint(j, t0 + 3s));
  EXPECT_EQ(j.due, t0 + 3s);
  m.on_progress(j, progress(60), t0 + 3s);
  EXPECT_EQ(j.sweep, SweepMark::excluded);
  EXPECT_LE(j.due, t0 + 3s + 60s);
  ExportJob queued;
  EXPECT_FALSE(m.on_swept(queued, t0)) << "a job not polling is not swept";
}

TEST(JobMachine, PerJobStateStaysSmall) { EXPECT_LE(sizeof(ExportJob), 128u); }

}  // namespace
}  // namespace exportd
