// The run's job table: slots reused, admission bounded, batches closed.

#include <gtest/gtest.h>

#include "engine/job_table.hpp"

namespace exportd {
namespace {

JobSpec spec(const std::string& key) {
  JobSpec s;
  s.key = key;
  return s;
}

// A daemon that runs for months holds only the jobs it works on: an ended
// job's slot takes the next one; admission keeps to max_active_jobs.
TEST(JobTable, EndedJobsSlotsAreReusedAndAdmissionKeepsToTheLimit) {
  JobTable t;
  const auto b = t.open_batch("batch-1", 3);
  for (const auto* key : {"a", "b", "c"}) {
    ExportJob j;
    j.batch = b;
    const auto i = t.take_slot();
    t.fill(i, spec(key), j);
  }
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.admit(2), 0u);
  EXPECT_EQ(t.admit(2), 1u);
  EXPECT_FALSE(t.admit(2)) << "two admitted: the limit";
  EXPECT_FALSE(t.idle());
  EXPECT_FALSE(t.closes_batch(t[0])) << "two jobs of the batch still open";
  t.end(0);
  EXPECT_EQ(t.admit(2), 2u) << "a place came free";

  const auto b2 = t.open_batch("batch-2", 1);
  ExportJob next;
  next.batch = b2;
  const auto slot = t.take_slot();
  EXPECT_EQ(slot, 0u) << "the ended job's slot";
  t.fill(slot, spec("d"), next);
  EXPECT_EQ(t.size(), 3u) << "no new slot";
  EXPECT_EQ(t.spec(0).key, "d");
  EXPECT_EQ(t.batch_id(t[0]), "batch-2");
  EXPECT_EQ(t[0].spec, 0u);
  EXPECT_EQ(t.accepted(), 4u);

  EXPECT_FALSE(t.closes_batch(t[1]));
  t.end(1);
  EXPECT_TRUE(t.closes_batch(t[2])) << "the last open job of batch-1";
  t.end(2);
  EXPECT_EQ(t.admit(2), 0u);
  EXPECT_TRUE(t.closes_batch(t[0])) << "batch-2's only job";
  t.end(0);
  EXPECT_TRUE(t.idle());
}

// In flight: exports the API accepted and not ended, recovered ones included.
TEST(JobTable, InFlightCountsAcceptedExportsUntilTheyEnd) {
  JobTable t;
  const auto b = t.open_batch("b", 2);
  ExportJob recovered;
  recovered.batch = b;
  recovered.state = JobState::polling;
  recovered.submitted_at = TimePoint{} + std::chrono::hours(1);
  t.fill(t.take_slot(), spec("r"), recovered);
  ExportJob fresh;
  fresh.batch = b;
  t.fill(t.take_slot(), spec("f"), fresh);
  EXPECT_EQ(t.in_flight(), 1u);
  t[1].submitted_at = TimePoint{} + std::chrono::hours(2);
  t.export_accepted();
  EXPECT_EQ(t.in_flight(), 2u);
  t.admit(10);
  t.admit(10);
  t.end(0);
  t.end(1);
  EXPECT_EQ(t.in_flight(), 0u);
}

// A daemon that runs for a year holds only the batches with jobs still open:
// an ended batch's place (and its id) is reused by the next batch.
TEST(JobTable, EndedBatchesPlacesAreReused) {
  JobTable t;
  const auto open = t.open_batch("open", 1);
  ExportJob waiting;
  waiting.batch = open;
  t.fill(t.take_slot(), spec("w"), waiting);
  for (int n = 0; n < 1000; ++n) {
    const auto b = t.open_batch("batch-" + std::to_string(n), 1);
    ExportJob j;
    j.batch = b;
    const auto i = t.take_slot();
    t.fill(i, spec("j"), j);
    EXPECT_EQ(t.batch_id(t[i]), "batch-" + std::to_string(n));
    EXPECT_TRUE(t.closes_batch(t[i]));
    t.end(i);
  }
  EXPECT_EQ(t.batch_slots(), 2u) << "the open batch and one reused place";
  EXPECT_EQ(t.batch_id(t[0]), "open") << "an open batch keeps its id";
  t.open_batch("empty", 0);
  EXPECT_EQ(t.batch_slots(), 2u) << "a batch of no jobs takes a free place and gives it back";
}

}  // namespace
}  // namespace exportd
