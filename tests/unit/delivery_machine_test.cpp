// The job machine's `delivering` state (SPEC §13), in fake time: a finished
// job is handed on by the delivery command before it succeeds; a failing or
// hanging command is retried like an API call and ends delivery_failed; the
// job's export deadline never cuts a delivery; a restart delivers again.

#include <gtest/gtest.h>

#include "jobs/export_job.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
const TimePoint t0 = TimePoint{} + 1000h;

JobMachine machine(bool downloads, bool delivers, std::uint32_t max_attempts = 3) {
  return JobMachine(PollPolicy({10s, 3s, 60s, 30min}), RetryPolicy({max_attempts, 1s, 30s}), downloads, delivers);
}

// A job polled to 100 % at t0 + 20 s.
ExportJob finished_export(const JobMachine& m, JobEvent& last) {
  ExportJob j;
  m.on_submitted(j, {"p1"}, t0);
  last = m.on_progress(j, {100, "https://cdn/v.mp4", ""}, t0 + 20s);
  return j;
}

TEST(Delivery, AFinishedExportIsDeliveredBeforeItSucceeds) {
  const auto m = machine(false, true);
  JobEvent e;
  auto j = finished_export(m, e);
  EXPECT_EQ(e.kind, JobEvent::Kind::deliver);
  EXPECT_EQ(e.download_url, "https://cdn/v.mp4");  // the link goes to the command ({download_url})
  EXPECT_EQ(j.state, JobState::delivering);
  EXPECT_EQ(j.due, t0 + 20s);
  EXPECT_EQ(m.step(j, t0 + 20s), StepKind::deliver);
  e = m.on_delivered(j, {DeliveryEnd::How::delivered, ""}, t0 + 25s, 0.5);
  EXPECT_EQ(e.kind, JobEvent::Kind::succeeded);
  EXPECT_EQ(j.state, JobState::succeeded);
  // Without deliver.command nothing changes: succeeded at 100 %.
  const auto plain = machine(false, false);
  auto k = finished_export(plain, e);
  EXPECT_EQ(e.kind, JobEvent::Kind::succeeded);
  EXPECT_EQ(k.state, JobState::succeeded);
}

TEST(Delivery, ADownloadedVideoIsDeliveredFromTheFile) {
  const auto m = machine(true, true);
  JobEvent e;
  auto j = finished_export(m, e);
  EXPECT_EQ(j.state, JobState::downloading);
  e = m.on_downloaded(j, t0 + 40s);
  EXPECT_EQ(e.kind, JobEvent::Kind::deliver);
  EXPECT_EQ(j.state, JobState::delivering);
  EXPECT_EQ(j.due, t0 + 40s);
}

TEST(Delivery, AFailingCommandIsRetriedWithBackoffThenTheJobFailsDeliveryFailed) {
  const auto m = machine(false, true, 3);
  JobEvent e;
  auto j = finished_export(m, e);
  auto now = t0 + 20s;
  e = m.on_delivered(j, {DeliveryEnd::How::failed, "exit 1: bucket not found"}, now, 1.0);
  EXPECT_EQ(e.kind, JobEvent::Kind::retrying);
  EXPECT_EQ(e.error->code, "delivery_failed");
  EXPECT_EQ(j.state, JobState::delivering);
  EXPECT_GT(j.due, now);                // backed off,
  EXPECT_LE(j.due, now + 1s);           // within the first ceiling
  now = j.due;
  e = m.on_delivered(j, {DeliveryEnd::How::failed, "exit 1"}, now, 1.0);
  EXPECT_EQ(e.kind, JobEvent::Kind::retrying);
  EXPECT_LE(j.due, now + 2s);  // the ceiling doubles
  now = j.due;
  e = m.on_delivered(j, {DeliveryEnd::How::failed, "exit 1: bucket not found"}, now, 1.0);
  EXPECT_EQ(e.kind, JobEvent::Kind::failed);
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_EQ(e.error->code, "delivery_failed");
  EXPECT_NE(e.error->message.find("failed 3 times in a row: exit 1: bucket not found"), std::string::npos);
  EXPECT_EQ(m.step(j, now + 1h), StepKind::nothing);
}

TEST(Delivery, ASuccessAfterFailuresStartsTheCountAgain) {
  const auto m = machine(false, true, 3);
  JobEvent e;
  auto j = finished_export(m, e);
  m.on_delivered(j, {DeliveryEnd::How::failed, "x"}, t0 + 21s, 0.5);
  m.on_delivered(j, {DeliveryEnd::How::failed, "x"}, t0 + 22s, 0.5);
  e = m.on_delivered(j, {DeliveryEnd::How::delivered, ""}, t0 + 23s, 0.5);
  EXPECT_EQ(e.kind, JobEvent::Kind::succeeded);
  EXPECT_EQ(j.call_failures, 0u);
}

TEST(Delivery, ATimeoutIsAFailureRetriedAndSaidSo) {
  const auto m = machine(false, true, 1);
  JobEvent e;
  auto j = finished_export(m, e);
  e = m.on_delivered(j, {DeliveryEnd::How::timed_out, "10m"}, t0 + 10min, 0.5);
  EXPECT_EQ(e.kind, JobEvent::Kind::failed);
  EXPECT_NE(e.error->message.find("killed at deliver.timeout"), std::string::npos) << e.error->message;
}

TEST(Delivery, TheExportDeadlineNeverCutsADelivery) {
  const auto m = machine(false, true);
  JobEvent e;
  auto j = finished_export(m, e);
  // Far past polling.job_timeout (30 min from the submit): still its delivery, not "timed_out".
  EXPECT_EQ(m.step(j, t0 + 5h), StepKind::deliver);
  e = m.on_delivered(j, {DeliveryEnd::How::failed, "x"}, t0 + 5h, 0.5);
  EXPECT_EQ(e.kind, JobEvent::Kind::retrying);
  EXPECT_GT(j.due, t0 + 5h);
}

TEST(Delivery, AJobRecoveredDeliveringIsDeliveredAgainAtOnce) {
  const auto m = machine(true, true);
  ExportJob j;
  m.on_recovered(j, JobState::delivering, "p1", t0, CreateReach::none, t0 + 3h);
  EXPECT_EQ(j.state, JobState::delivering);
  EXPECT_EQ(j.project_id, "p1");
  EXPECT_EQ(j.due, t0 + 3h);
  EXPECT_EQ(m.step(j, t0 + 3h), StepKind::deliver);
}

}  // namespace
}  // namespace exportd
