// The pure parts the exporter carries out: how a journal's job comes back
// after a restart (comeback), when each job is stepped next (StepSchedule),
// and what an ended job's result says (job_result, count_result).

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "engine/job_report.hpp"
#include "engine/recovery.hpp"
#include "engine/step_schedule.hpp"
#include "manual_time.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using testing::ManualTime;
using SysTime = RestartFacts::SysTime;

RecoveredJob recovered(Recovery state, SysTime submitted = SysTime{}) {
  RecoveredJob r;
  r.state = state;
  r.project_id = "p-1";
  r.submitted_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(submitted.time_since_epoch()).count();
  r.submissions = 1;
  return r;
}

// Each state the journal can hold comes back as what it was: nothing sent is
// sent; a submit in doubt is asked about, never sent blind; an accepted export
// is polled (or its download resumed), never exported again.
TEST(Comeback, EachJournalStateComesBackAsWhatItWas) {
  const SysTime now{1'000'000s};
  const auto fresh = comeback(recovered(Recovery::fresh), true, false, std::nullopt, now, 10min);
  EXPECT_FALSE(fresh.state);
  EXPECT_STREQ(fresh.how, "accepted");

  const auto doubt = comeback(recovered(Recovery::in_doubt), true, false, std::nullopt, now, 10min);
  EXPECT_EQ(doubt.state, JobState::in_doubt);
  EXPECT_STREQ(doubt.how, "recovered_in_doubt");

  const auto polled = comeback(recovered(Recovery::submitted, now - 1min), true, false, std::nullopt, now, 10min);
  EXPECT_EQ(polled.state, JobState::polling);
  EXPECT_FALSE(polled.first_read) << "read at its due time, as before the restart";

  const auto fetching = comeback(recovered(Recovery::downloading, now - 1min), true, true, std::nullopt, now, 10min);
  EXPECT_EQ(fetching.state, JobState::downloading);
  EXPECT_STREQ(fetching.how, "recovered_downloading");

  // Downloads turned off since: its export is read again for its link's result.
  const auto no_downloads = comeback(recovered(Recovery::downloading, now - 1min), false, false, std::nullopt, now, 10min);
  EXPECT_EQ(no_downloads.state, JobState::polling);
  EXPECT_STREQ(no_downloads.how, "recovered_submitted");
}

// A hooked job whose hook cannot have come during the downtime keeps waiting
// for it (read at its next safety read); one whose finish may have fallen in
// the downtime is read at once.
TEST(Comeback, AHookedJobIsReadAtOnceOnlyIfItsHookMayHaveComeWhileDown) {
  const SysTime now{1'000'000s};
  RestartFacts facts;
  facts.last_alive = now - 2min;  // down for two minutes
  facts.saw_export(8min);
  facts.saw_export(10min);

  // Submitted 30 s before the crash: predicted to finish 4–20 min after its
  // submit, i.e. from 90 s after now: it is still running, its hook to come.
  const auto waiting = comeback(recovered(Recovery::submitted, now - 150s), true, true, facts, now, 10min);
  EXPECT_EQ(waiting.state, JobState::polling);
  EXPECT_STREQ(waiting.how, "recovered_awaiting_hook");
  ASSERT_TRUE(waiting.first_read);
  EXPECT_EQ(*waiting.first_read, now - 150s + 10min) << "its first safety read, as if never stopped";

  // Submitted 5 min before now: its finish window (1 min ago .. 15 min on) covers the downtime.
  const auto read = comeback(recovered(Recovery::submitted, now - 5min), true, true, facts, now, 10min);
  EXPECT_STREQ(read.how, "recovered_submitted");
  EXPECT_FALSE(read.first_read);

  // Not hooked (its own webhook_url), or not a restart: no waiting.
  EXPECT_FALSE(comeback(recovered(Recovery::submitted, now - 150s), true, false, facts, now, 10min).first_read);
  EXPECT_FALSE(comeback(recovered(Recovery::submitted, now - 150s), true, true, std::nullopt, now, 10min).first_read);
}

struct StepScheduleTest : ::testing::Test {
  boost::asio::io_context io;
  ManualTime time;
  JobTable jobs;
  JobMachine machine{PollPolicy({10s, 3s, 60s, 30min}), RetryPolicy({8, 1s, 30s})};
  DueQueues downloads;
  StepSchedule schedule{io.get_executor(), time, jobs, machine, downloads};

  std::uint32_t add(JobState state, TimePoint due) {
    const auto b = jobs.open_batch("b", 1);
    ExportJob j;
    j.batch = b;
    j.state = state;
    j.due = due;
    j.project_id = "p";
    j.submitted_at = time.now();
    const auto i = jobs.take_slot();
    jobs.fill(i, JobSpec{}, j);
    return i;
  }
};

// A job given another time since it was queued is stepped once, at its
// latest time; a busy job is not taken twice; downloads go to their own queue.
TEST_F(StepScheduleTest, AJobIsTakenOnceAtItsLatestTimeAndDownloadsGoToTheirOwnQueue) {
  const auto now = time.now();
  const auto a = add(JobState::polling, now + 5s);
  schedule.schedule(a);
  jobs[a].due = now;  // moved earlier (a hint)
  schedule.schedule(a);
  const auto d = add(JobState::downloading, now);
  schedule.schedule(d);

  EXPECT_EQ(schedule.take(StepSchedule::Queue::api), a);
  EXPECT_TRUE(jobs[a].busy);
  EXPECT_FALSE(schedule.take(StepSchedule::Queue::api)) << "the other entry is stale";
  EXPECT_EQ(schedule.take(StepSchedule::Queue::downloads), d);
  EXPECT_EQ(downloads.size(), 0u);

  schedule.done(a);
  EXPECT_FALSE(jobs[a].busy);
  time.advance(10s);
  EXPECT_FALSE(schedule.take(StepSchedule::Queue::api)) << "the stale entry at +5 s is not a step";
}

// Many hints, one read: a hint for a job mid-step reads it once more right
// after that step (its read may have gone out before the finish); a hint
// for an idle job moves its read to now.
TEST_F(StepScheduleTest, AHintMidStepReadsTheJobOnceMoreAfterItsStep) {
  const auto now = time.now();
  const auto a = add(JobState::polling, now);
  schedule.schedule(a);
  ASSERT_EQ(schedule.take(StepSchedule::Queue::api), a);
  jobs[a].due = now + 30s;  // what its read decided
  schedule.schedule(a);
  schedule.read_now(a);
  schedule.read_now(a);
  EXPECT_TRUE(jobs[a].hint_pending);
  schedule.done(a);
  EXPECT_FALSE(jobs[a].hint_pending);
  EXPECT_EQ(schedule.take(StepSchedule::Queue::api), a) << "read again now, not in 30 s";
  EXPECT_FALSE(schedule.take(StepSchedule::Queue::api)) << "once";
  schedule.done(a);

  const auto b = add(JobState::polling, now + 30s);
  jobs[b].track.read_ms = 2000;  // read once, before the sweeps listed it
  schedule.schedule(b);
  schedule.reschedule(b, false);  // handed back by the sweeps
  EXPECT_EQ(schedule.take(StepSchedule::Queue::api), b) << "read on its own again, now";
  schedule.done(b);

  // Never read (listed from its start, then dropped by a list that shows
  // only the newest): read when its own schedule would first have read it,
  // not at once (issue 25, H13: a read that early predicts its finish from too little).
  const auto c = add(JobState::polling, now + 10min);
  schedule.schedule(c);
  schedule.reschedule(c, false);
  EXPECT_FALSE(schedule.take(StepSchedule::Queue::api));
  EXPECT_EQ(jobs[c].due, jobs[c].submitted_at + Config{}.polling.first_poll_after);
}

// An ended job's result line: a failed download keeps its link; a video only
// on success; the summary counts jobs that failed only for faults as unreachable.
TEST(JobReport, AResultKeepsAFailedDownloadsLinkAndCountsFaultsAsUnreachable) {
  ExportJob job;
  job.state = JobState::failed;
  job.project_id = "p-9";
  job.submissions = 1;
  job.requests = 7;
  JobSpec spec;
  spec.key = "night.yaml#a";
  JobEvent ended;
  ended.kind = JobEvent::Kind::failed;
  ended.error = JobError{Errc::rejected, "download_failed", "gave up"};
  DownloadStage::Active d;
  d.url = "https://cdn.example/v.mp4";
  d.done = FinishedVideo{"/srv/v.mp4", 10, "ab"};
  const SysTime at{100s};
  auto r = job_result(job, spec, "b1", ended, &d, std::nullopt, at);
  EXPECT_EQ(r.status, JobOutcome::failed);
  EXPECT_EQ(r.download_url, "https://cdn.example/v.mp4");
  EXPECT_FALSE(r.video) << "no file is claimed for a failed job";
  EXPECT_EQ(r.requests, 7u);

  RunSummary s;
  count_result(s, r);
  ended.error = JobError{Errc::transport, "transport", "reset"};
  count_result(s, job_result(job, spec, "b1", ended, nullptr, std::nullopt, at));
  job.state = JobState::succeeded;
  JobEvent done;
  done.kind = JobEvent::Kind::succeeded;
  const auto ok = job_result(job, spec, "b1", done, &d, std::nullopt, at);
  ASSERT_TRUE(ok.video);
  EXPECT_EQ(ok.video->sha256, "ab");
  count_result(s, ok);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.succeeded, 1u);
  EXPECT_EQ(s.unreachable, 1u) << "only the one that ran out of transient retries";
}

}  // namespace
}  // namespace exportd
