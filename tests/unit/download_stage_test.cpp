// The download stage's state (SPEC §10): one writer per file, the jobs
// paused on a full disk, the bytes written, a download resumed from disk.

#include <gtest/gtest.h>

#include "download/download_stage.hpp"
#include "temp_dir.hpp"

namespace exportd {
namespace {

using DownloadStageTest = testing::TempDir;

// A job file taken twice: two jobs of two batches download to one file.
// The second waits until the first has ended; never two writers.
TEST_F(DownloadStageTest, TwoJobsOfOneFileTakeTurns) {
  DownloadStage s;
  s.open(1).file.path = "/videos/a.mp4";
  s.open(2).file.path = "/videos/a.mp4";
  s.open(3).file.path = "/videos/b.mp4";
  EXPECT_FALSE(s.claim_file(1)) << "the first writer";
  EXPECT_FALSE(s.claim_file(1)) << "its own file, again";
  EXPECT_EQ(s.claim_file(2), 1u) << "job 1 writes it";
  EXPECT_FALSE(s.claim_file(3)) << "another file";
  EXPECT_EQ(s.downloading(), 3u);
  s.end(1);
  EXPECT_EQ(s.find(1), nullptr);
  EXPECT_FALSE(s.claim_file(2)) << "its turn";
  EXPECT_EQ(s.downloading(), 2u);
}

TEST_F(DownloadStageTest, AFullDiskPausesAJobUntilATryGetsFurtherAndEveryByteIsCounted) {
  DownloadStage s;
  s.open(1).file.path = "/videos/a.mp4";
  s.open(2).file.path = "/videos/b.mp4";
  s.on_try(1, FetchEnd::disk_full, 100);
  s.on_try(2, FetchEnd::disk_full, 0);
  EXPECT_EQ(s.paused(), 2u);
  s.on_try(1, FetchEnd::complete, 900);
  EXPECT_EQ(s.paused(), 1u);
  s.end(2);
  EXPECT_EQ(s.paused(), 0u) << "an ended job is not paused";
  EXPECT_EQ(s.bytes(), 1000u);
}

// After a restart: the journal's link, file, validator, length and latest
// checkpoint. Only the checkpoint's bytes are taken as there (the next try
// checks them against its digest); what NAME.part holds past it may never
// have reached the disk.
TEST_F(DownloadStageTest, ADownloadRecoveredFromTheJournalResumesFromItsCheckpoint) {
  const auto path = (dir_ / "a.mp4").string();
  write("a.mp4.part", std::string(1234, 'v'));
  DownloadStage s;
  s.resume(4, "https://cdn.example.com/a.mp4", path, "\"etag-1\"", 5000, Checkpoint{1000, std::string(64, 'a')});
  auto* d = s.find(4);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->url, "https://cdn.example.com/a.mp4");
  EXPECT_EQ(d->file.path, path);
  EXPECT_EQ(d->file.part.bytes, 1000u);
  EXPECT_EQ(d->file.hash.bytes(), 0u) << "not checked yet";
  EXPECT_EQ(d->file.checkpoint.sha256, std::string(64, 'a'));
  EXPECT_EQ(d->file.part.validator, "\"etag-1\"");
  EXPECT_EQ(d->file.part.total, 5000u);
  EXPECT_FALSE(d->done);
}

}  // namespace
}  // namespace exportd
