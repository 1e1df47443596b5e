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

// Issue 26, the create's idempotence in the job machine: a create is in
// doubt after any failure that may have made a project, and an in-doubt
// create is sent again only after a lookup said "absent".
TEST(JobMachine, ACreateIsInDoubtAfterAnyReplyThatMayHaveMadeAProject) {
  auto m = machine();
  const auto sent_and = [&](const ApiError& e, bool creates) {
    ExportJob j;
    j.creates = creates;
    m.on_failure(j, e, t0, 0.5);
    return j;
  };
  const auto e500 = ApiError{Errc::overloaded, 500, "http_500", "oops", {}};
  const auto html = ApiError{Errc::malformed, 200, "malformed", "HTML", {}};
  for (const auto& e : {e500, html}) {
    const auto create = sent_and(e, true);
    EXPECT_EQ(create.state, JobState::in_doubt) << e.code;
    EXPECT_EQ(create.reach, CreateReach::maybe);
    EXPECT_EQ(m.step(create, t0 + 1h), StepKind::probe);
    EXPECT_GE(create.due, t0 + create_settle);  // looked up only once a list may show it
    EXPECT_EQ(sent_and(e, false).state, JobState::queued) << e.code;  // an export is sent again as before
  }
  const auto refused = sent_and(ApiError{Errc::overloaded, 429, "http_429", "slow down", {}}, true);
  EXPECT_EQ(refused.state, JobState::queued);
  EXPECT_EQ(refused.reach, CreateReach::none);
}

TEST(JobMachine, AnInDoubtCreateIsSentAgainOnlyAfterALookupSaidAbsent) {
  auto m = machine(3);
  ExportJob j;
  j.creates = true;
  m.on_failure(j, ApiError{Errc::overloaded, 502, "http_502", "gateway", {}}, t0, 0.5);
  ASSERT_EQ(j.state, JobState::in_doubt);
  // The lookup could not say (a refused list): tried again, still in doubt.
  auto ev = m.on_failure(j, ApiError{Errc::transport, 0, "list_refused", "404", {}}, t0 + 1s, 0.5);
  EXPECT_EQ(ev.kind, JobEvent::Kind::retrying);
  EXPECT_EQ(j.state, JobState::in_doubt);
  // ... until the tries run out: failed, and the doubt kept for a later run.
  ev = m.on_failure(j, ApiError{Errc::transport, 0, "list_refused", "404", {}}, t0 + 2s, 0.5);
  EXPECT_EQ(ev.kind, JobEvent::Kind::failed);
  EXPECT_EQ(ev.error->code, "create_in_doubt");
  EXPECT_EQ(j.reach, CreateReach::maybe);

  // Absent: sent again, nothing in doubt any more.
  ExportJob k;
  k.creates = true;
  m.on_failure(k, ApiError{Errc::overloaded, 500, "http_500", "oops", {}}, t0, 0.5);
  EXPECT_EQ(m.on_probe(k, std::nullopt, t0 + 1s, 0.5).kind, JobEvent::Kind::resubmit);
  EXPECT_EQ(k.state, JobState::queued);
  EXPECT_EQ(k.reach, CreateReach::none);
  // Found: adopted, never sent again.
  ExportJob f;
  f.creates = true;
  m.on_failure(f, ApiError{Errc::overloaded, 500, "http_500", "oops", {}}, t0, 0.5);
  EXPECT_EQ(m.on_probe(f, std::string("prj-4"), t0 + 1s, 0.5).kind, JobEvent::Kind::adopted);
  EXPECT_EQ(f.project_id, "prj-4");
  EXPECT_EQ(f.state, JobState::polling);
}

TEST(JobMachine, ACreateAcceptedWithoutAnIdIsLookedUpAndNeverSentAgain) {
  auto m = machine(3);
  ExportJob j;
  j.creates = true;
  auto ev = m.on_submitted(j, SubmitReply{""}, t0);
  EXPECT_EQ(ev.kind, JobEvent::Kind::in_doubt);
  EXPECT_EQ(j.due, t0 + create_settle);
  EXPECT_EQ(j.state, JobState::in_doubt);
  EXPECT_EQ(j.reach, CreateReach::accepted);
  EXPECT_EQ(m.step(j, t0), StepKind::probe);
  // Not listed (yet): looked up again later, never sent again.
  ev = m.on_probe(j, std::nullopt, t0 + 1s, 0.5);
  EXPECT_EQ(ev.kind, JobEvent::Kind::retrying);
  EXPECT_EQ(j.state, JobState::in_doubt);
  EXPECT_EQ(m.on_probe(j, std::nullopt, t0 + 5s, 0.5).kind, JobEvent::Kind::retrying);
  ev = m.on_probe(j, std::nullopt, t0 + 20s, 0.5);  // the third try of retry.max_attempts 3
  EXPECT_EQ(ev.kind, JobEvent::Kind::failed);
  EXPECT_EQ(ev.error->code, "create_in_doubt");
  EXPECT_EQ(j.reach, CreateReach::accepted);
  // Listed: adopted.
  ExportJob k;
  k.creates = true;
  m.on_submitted(k, SubmitReply{""}, t0);
  EXPECT_EQ(m.on_probe(k, std::string("prj-5"), t0 + 1s, 0.5).kind, JobEvent::Kind::adopted);
  EXPECT_EQ(k.reach, CreateReach::none);
  // An export job accepted without an id polls its own project, as before.
  ExportJob e;
  EXPECT_EQ(m.on_submitted(e, SubmitReply{""}, t0, "own").kind, JobEvent::Kind::submitted);
}

TEST(JobMachine, ARecoveredCreateInDoubtKeepsWhatItMayHaveDone) {
  auto m = machine();
  ExportJob j;
  j.creates = true;
  m.on_recovered(j, JobState::in_doubt, "", {}, CreateReach::accepted, t0);
  EXPECT_EQ(j.reach, CreateReach::accepted);
  EXPECT_EQ(j.due, t0 + create_settle);  // a list may show a new project late
  ExportJob k;
  k.creates = true;
  m.on_recovered(k, JobState::in_doubt, "", {}, CreateReach::none, t0);
  EXPECT_EQ(k.reach, CreateReach::maybe);  // in doubt at a restart: at least maybe
}

TEST(JobMachine, PerJobStateStaysSmall) { EXPECT_LE(sizeof(ExportJob), 128u); }

}  // namespace
}  // namespace exportd
