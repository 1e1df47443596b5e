#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "spool/batch_store.hpp"
#include "spool/journal_record.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string header(const std::string& batch, const std::string& name = "jobs.yaml") {
  JournalRecord r;
  r.kind = RecordKind::batch;
  r.batch = batch;
  r.name = name;
  r.origin = BatchOrigin::drop();
  return encode(r) + "\n";
}

std::string rec(RecordKind kind, const std::string& batch, const std::string& job, const std::string& extra = "") {
  JournalRecord r;
  r.kind = kind;
  r.batch = batch;
  r.job = job;
  if (kind == RecordKind::submitted) {
    r.project = extra.empty() ? "p-" + job : extra;
    r.at_ms = 1'700'000'000'000;
  }
  if (kind == RecordKind::ended) r.result = json::object{{"job", job}, {"batch", batch}, {"status", extra.empty() ? "succeeded" : extra}};
  return encode(r) + "\n";
}

TEST(JournalRecord, EveryKindRoundTrips) {
  for (auto kind : {RecordKind::batch, RecordKind::submit, RecordKind::submitted, RecordKind::download,
                    RecordKind::ended, RecordKind::closed, RecordKind::reopened}) {
    JournalRecord r;
    r.kind = kind;
    r.batch = "b1";
    r.job = "f.yaml#a";
    r.project = "p1";
    r.at_ms = 42;
    r.result = json::object{{"status", "failed"}};
    r.name = "f.yaml";
    r.origin = BatchOrigin::queue("/etc/q.yaml");
    r.results_offset = 77;
    r.download = DownloadRecord{"https://cdn/v.mp4?sig=1", "/srv/v/a.mp4", "\"e1\"", 12345,
                                Checkpoint{4096, std::string(64, 'c')}};
    auto back = decode(encode(r));
    ASSERT_TRUE(back) << encode(r);
    EXPECT_EQ(back->kind, kind);
    EXPECT_EQ(back->batch, "b1");
    if (kind == RecordKind::download) {
      EXPECT_EQ(back->download.url, "https://cdn/v.mp4?sig=1");
      EXPECT_EQ(back->download.file, "/srv/v/a.mp4");
      EXPECT_EQ(back->download.validator, "\"e1\"");
      EXPECT_EQ(back->download.total, 12345u);
      EXPECT_EQ(back->download.checkpoint, (Checkpoint{4096, std::string(64, 'c')}));
    }
  }
}

// A checkpoint whose digest is not 64 hex digits vouches for nothing: the
// part it names is fetched again, never resumed on its word (issue 25, H05).
TEST(JournalRecord, ACheckpointWithoutAWellFormedDigestIsDropped) {
  for (const std::string& sha : {std::string(63, 'a'), std::string(64, 'G'), std::string("")}) {
    const std::string line = R"({"r":"download","batch":"b","job":"j","url":"https://cdn/v","file":"/v/a.mp4","checked":4096,"checked_sha256":")" +
                             sha + "\"}";
    const auto back = decode(line);
    ASSERT_TRUE(back) << line;
    EXPECT_EQ(back->download.checkpoint, Checkpoint{}) << sha;
  }
}

TEST(Replay, ADownloadUnderWayResumesWithItsLatestRecordAndSurvivesCompaction) {
  auto download = [](const std::string& job, const std::string& url, const std::string& validator) {
    JournalRecord r;
    r.kind = RecordKind::download;
    r.batch = "b";
    r.job = job;
    r.download = DownloadRecord{url, "/srv/v/" + job + ".mp4", validator, std::nullopt, {}};
    if (!validator.empty()) r.download.total = 5000;
    return encode(r) + "\n";
  };
  const std::string text = header("b") + rec(RecordKind::submit, "b", "d") + rec(RecordKind::submitted, "b", "d") +
                           download("d", "https://cdn/1", "") + download("d", "https://cdn/2", "\"e\"") +
                           download("stray", "https://cdn/x", "");  // never submitted: ignored
  auto r = replay(text);
  const auto& d = r.batches[0].jobs.at("d");
  EXPECT_EQ(d.state, Recovery::downloading);
  EXPECT_EQ(d.project_id, "p-d");
  EXPECT_EQ(d.download.url, "https://cdn/2");
  EXPECT_EQ(d.download.validator, "\"e\"");
  EXPECT_EQ(d.download.total, 5000u);
  EXPECT_NE(r.batches[0].jobs.at("stray").state, Recovery::downloading);
  // Compacted, it replays the same.
  std::string compacted;
  for (const auto& rec : compact(r)) compacted += encode(rec) + "\n";
  const auto again = replay(compacted).batches[0].jobs.at("d");
  EXPECT_EQ(again.state, Recovery::downloading);
  EXPECT_EQ(again.project_id, "p-d");
  EXPECT_EQ(again.submitted_at_ms, 1'700'000'000'000);
  EXPECT_EQ(again.download.url, "https://cdn/2");
  EXPECT_EQ(again.download.total, 5000u);
}

// SPEC §13: `delivering` is journaled before a delivery command starts; a
// restart finds the job delivering (delivered again, with the same values)
// until its `ended` record says it was delivered: then never again.
TEST(Replay, AJobDeliveringIsDeliveredAgainUntilItsEndIsJournaled) {
  auto delivering = [](const std::string& job) {
    JournalRecord r;
    r.kind = RecordKind::delivering;
    r.batch = "b";
    r.job = job;
    r.delivery = DeliveryRecord{"https://cdn/" + job, "/srv/v/" + job + " it's.mp4", std::string(64, 'e'), 5000};
    return encode(r) + "\n";
  };
  const std::string text = header("b") + rec(RecordKind::submit, "b", "d") + rec(RecordKind::submitted, "b", "d") +
                           delivering("d") + rec(RecordKind::submit, "b", "e") + rec(RecordKind::submitted, "b", "e") +
                           delivering("e") + rec(RecordKind::ended, "b", "e") +
                           delivering("stray");  // never submitted: ignored
  auto r = replay(text);
  const auto& d = r.batches[0].jobs.at("d");
  EXPECT_EQ(d.state, Recovery::delivering);
  EXPECT_EQ(d.project_id, "p-d");
  EXPECT_EQ(d.delivery, (DeliveryRecord{"https://cdn/d", "/srv/v/d it's.mp4", std::string(64, 'e'), 5000}));
  EXPECT_EQ(r.batches[0].jobs.at("e").state, Recovery::ended);
  EXPECT_NE(r.batches[0].jobs.at("stray").state, Recovery::delivering);
  std::string compacted;
  for (const auto& rec : compact(r)) compacted += encode(rec) + "\n";
  const auto again = replay(compacted).batches[0].jobs;
  EXPECT_EQ(again.at("d").state, Recovery::delivering);
  EXPECT_EQ(again.at("d").delivery, d.delivery);
  EXPECT_EQ(again.at("e").state, Recovery::ended);
  // A file without a well-formed digest is never vouched for.
  EXPECT_FALSE(decode(R"({"r":"delivering","batch":"b","job":"j","url":"u","file":"/v.mp4","sha256":"x"})"));
}

TEST(JournalRecord, MalformedLinesAreRefused) {
  for (const char* bad : {"", "{", "[]", R"({"r":"submit","batch":"b"})", R"({"r":"nope","batch":"b"})",
                          R"({"r":"submitted","batch":"b"})", R"({"r":"ended","batch":"b","job":"j"})",
                          R"({"r":"batch"})"})
    EXPECT_FALSE(decode(bad)) << bad;
}

// Finding 5 of issue 26: what a create left behind decides how it starts
// when its batch runs again; nothing of it is created twice.
TEST(Replay, ACreateRunAgainIsLookedUpOrPolledNeverSentAfresh) {
  const auto ended = [](const std::string& job, CreateReach reach, const std::string& created, const char* status) {
    JournalRecord r;
    r.kind = RecordKind::ended;
    r.batch = "b";
    r.job = job;
    r.result = json::object{{"job", job}, {"batch", "b"}, {"status", status}};
    r.reach = reach;
    r.created = created;
    return encode(r) + "\n";
  };
  JournalRecord again;
  again.kind = RecordKind::reopened;
  again.batch = "b";
  again.at_ms = 1'800'000'000'000;
  // A submitted record without a project: the API accepted the create and gave no id.
  JournalRecord accepted;
  accepted.kind = RecordKind::submitted;
  accepted.batch = "b";
  accepted.job = "accepted";
  const std::string text = header("b") + rec(RecordKind::submit, "b", "maybe") +
                           ended("maybe", CreateReach::maybe, "", "failed") + rec(RecordKind::submit, "b", "timed") +
                           rec(RecordKind::submitted, "b", "timed", "prj-7") +
                           ended("timed", CreateReach::none, "prj-7", "timed_out") +
                           rec(RecordKind::submit, "b", "refused") + ended("refused", CreateReach::none, "", "failed") +
                           rec(RecordKind::submit, "b", "accepted") + encode(accepted) + "\n" +
                           ended("accepted", CreateReach::accepted, "", "failed") + encode(again) + "\n";
  for (const auto& journal : {text, [&] {
                                std::string compacted;
                                for (const auto& r : compact(replay(text))) compacted += encode(r) + "\n";
                                return compacted;
                              }()}) {
    const auto replayed = replay(journal);
    const auto& jobs = replayed.batches.at(0).jobs;
    EXPECT_EQ(jobs.at("maybe").state, Recovery::in_doubt);  // looked up before anything is sent
    EXPECT_EQ(jobs.at("maybe").reach, CreateReach::maybe);
    EXPECT_EQ(jobs.at("accepted").state, Recovery::in_doubt);  // looked up, never sent again
    EXPECT_EQ(jobs.at("accepted").reach, CreateReach::accepted);
    EXPECT_EQ(jobs.at("timed").state, Recovery::submitted);  // its project polled again, from the rerun on
    EXPECT_EQ(jobs.at("timed").project_id, "prj-7");
    EXPECT_EQ(jobs.at("timed").submitted_at_ms, 1'800'000'000'000);
    // The API refused it: sent again (a fresh job, which a compacted journal need not name).
    EXPECT_TRUE(!jobs.contains("refused") || jobs.at("refused").state == Recovery::fresh);
  }
  // A crash after the API accepted a create without an id: still never sent again.
  const auto crashed = replay(header("b") + rec(RecordKind::submit, "b", "j") + encode([] {
                                JournalRecord r;
                                r.kind = RecordKind::submitted;
                                r.batch = "b";
                                r.job = "j";
                                return r;
                              }()) + "\n");
  EXPECT_EQ(crashed.batches[0].jobs.at("j").state, Recovery::in_doubt);
  EXPECT_EQ(crashed.batches[0].jobs.at("j").reach, CreateReach::accepted);
}

TEST(Replay, EachJobStateFollowsItsLastRecord) {
  const std::string text = header("b") + rec(RecordKind::submit, "b", "in-doubt") +
                           rec(RecordKind::submit, "b", "polled") + rec(RecordKind::submitted, "b", "polled") +
                           rec(RecordKind::submit, "b", "done") + rec(RecordKind::submitted, "b", "done") +
                           rec(RecordKind::ended, "b", "done") + rec(RecordKind::submit, "b", "twice") +
                           rec(RecordKind::submit, "b", "twice");
  const auto r = replay(text);
  ASSERT_EQ(r.batches.size(), 1u);
  const auto& jobs = r.batches[0].jobs;
  EXPECT_EQ(jobs.at("in-doubt").state, Recovery::in_doubt);
  EXPECT_EQ(jobs.at("polled").state, Recovery::submitted);
  EXPECT_EQ(jobs.at("polled").project_id, "p-polled");
  EXPECT_EQ(jobs.at("polled").submitted_at_ms, 1'700'000'000'000);
  EXPECT_EQ(jobs.at("done").state, Recovery::ended);
  EXPECT_EQ(jobs.at("twice").submissions, 2);
  EXPECT_EQ(jobs.count("never-mentioned"), 0u);  // fresh: submit it
  EXPECT_FALSE(r.batches[0].closed);
  EXPECT_FALSE(r.torn_tail);
}

TEST(Replay, AnEndedJobIsNeverReopenedByALaterStrayRecord) {
  const auto r = replay(header("b") + rec(RecordKind::ended, "b", "j") + rec(RecordKind::submit, "b", "j") +
                        rec(RecordKind::submitted, "b", "j"));
  EXPECT_EQ(r.batches[0].jobs.at("j").state, Recovery::ended);
}

TEST(Replay, ATornLastLineIsIgnored) {
  std::string text = header("b") + rec(RecordKind::submit, "b", "j") + rec(RecordKind::submitted, "b", "j");
  text.resize(text.size() - 7);  // the crash cut the last write short
  const auto r = replay(text);
  EXPECT_TRUE(r.torn_tail);
  EXPECT_EQ(r.batches[0].jobs.at("j").state, Recovery::in_doubt);  // as if the torn record never was
  EXPECT_EQ(r.bad_lines, 0u);
}

TEST(Replay, GarbageInTheMiddleIsSkippedAndCounted) {
  const auto r = replay(header("b") + "not json at all\n" + rec(RecordKind::submit, "x-unknown-batch", "j") +
                        rec(RecordKind::submit, "b", "j"));
  EXPECT_EQ(r.bad_lines, 2u);
  EXPECT_EQ(r.batches[0].jobs.at("j").state, Recovery::in_doubt);
}

TEST(Replay, ClosedBatchesAreMarkedAndReopenRetriesOnlyTheFailed) {
  auto r = replay(header("a") + rec(RecordKind::closed, "a", ""));
  EXPECT_TRUE(r.batches[0].closed);
  r = replay(header("q") + rec(RecordKind::ended, "q", "ok") + rec(RecordKind::ended, "q", "bad", "failed") +
             rec(RecordKind::ended, "q", "late", "timed_out") + rec(RecordKind::reopened, "q", ""));
  const auto& jobs = r.batches[0].jobs;
  EXPECT_EQ(jobs.at("ok").state, Recovery::ended);
  EXPECT_EQ(jobs.at("bad").state, Recovery::fresh);
  EXPECT_EQ(jobs.at("late").state, Recovery::fresh);
}

TEST(Replay, ADuplicatedBatchHeaderKeepsTheFirst) {
  const auto r = replay(header("b", "one.yaml") + header("b", "two.yaml"));
  ASSERT_EQ(r.batches.size(), 1u);
  EXPECT_EQ(r.batches[0].header.name, "one.yaml");
}

// BatchStore over a real temp dir: the recovery rules end to end.
class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("exportd-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    spool_.emplace(dir_.string());
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel, std::ios::binary) << text; }
  std::string read(const std::string& rel) {
    std::ifstream in(dir_ / rel, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<PendingBatch> recover() {
    BatchStore store(io_.get_executor(), *spool_, log_);
    return store.recover({});
  }

  boost::asio::io_context io_;
  Logger log_{LogSettings{LogLevel::error, LogFormat::text}, stderr};
  fs::path dir_;
  std::optional<Spool> spool_;
};

const std::string batch_id = "20261124T000000Z-0001-jobs.yaml";

TEST_F(Store, RecoveryResumesEachStateAndReappendsALostResultOnce) {
  write("active/" + batch_id, "jobs:\n  - project_id: a\n  - project_id: b\n  - project_id: c\n  - project_id: d\n");
  write("journal.jsonl", header(batch_id) + rec(RecordKind::submit, batch_id, "jobs.yaml#b") +
                             rec(RecordKind::submit, batch_id, "jobs.yaml#c") +
                             rec(RecordKind::submitted, batch_id, "jobs.yaml#c", "new-c") +
                             rec(RecordKind::ended, batch_id, "jobs.yaml#d"));
  auto pending = recover();
  ASSERT_EQ(pending.size(), 1u);
  const auto& p = pending[0];
  ASSERT_EQ(p.specs.size(), 3u);  // d has ended: not redone
  EXPECT_EQ(p.specs[0].key, "jobs.yaml#a");
  EXPECT_EQ(p.states[0].state, Recovery::fresh);
  EXPECT_EQ(p.states[1].state, Recovery::in_doubt);
  EXPECT_EQ(p.states[2].state, Recovery::submitted);
  EXPECT_EQ(p.states[2].project_id, "new-c");
  // d's result line was lost in the crash: it is written back, once.
  EXPECT_EQ(read("results.jsonl"), "{\"job\":\"jobs.yaml#d\",\"batch\":\"" + batch_id + "\",\"status\":\"succeeded\"}\n");
  pending = recover();  // a second crash right after: same plan, no second line
  EXPECT_EQ(pending[0].states[2].project_id, "new-c");
  EXPECT_EQ(pending[0].states[1].submissions, 1);
  const auto results = read("results.jsonl");
  EXPECT_EQ(std::count(results.begin(), results.end(), '\n'), 1);
}

TEST_F(Store, RecoveryTellsHowLongExportsTookAndWhenTheDaemonWasLastUp) {
  write("active/" + batch_id, "jobs:\n  - project_id: a\n  - project_id: b\n  - project_id: c\n  - project_id: d\n");
  const auto ended = [](const std::string& job, const char* status, const char* from, const char* to) {
    JournalRecord r;
    r.kind = RecordKind::ended;
    r.batch = batch_id;
    r.job = job;
    r.result = json::object{{"job", job}, {"batch", batch_id}, {"status", status}, {"submitted_at", from}, {"finished_at", to}};
    return encode(r) + "\n";
  };
  write("journal.jsonl", header(batch_id) +
                             ended("jobs.yaml#a", "succeeded", "2026-11-24T10:00:00.000Z", "2026-11-24T10:01:10.000Z") +
                             ended("jobs.yaml#b", "succeeded", "2026-11-24T10:00:00.000Z", "2026-11-24T10:01:40.500Z") +
                             ended("jobs.yaml#c", "failed", "2026-11-24T10:00:00.000Z", "2026-11-24T10:00:05.000Z") +
                             rec(RecordKind::submitted, batch_id, "jobs.yaml#d"));
  // The journal was last written then (the crash came after that).
  const timespec times[2] = {{1'795'000'000, 0}, {1'795'000'000, 250'000'000}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ / "journal.jsonl").c_str(), times, 0), 0);
  BatchStore store(io_.get_executor(), *spool_, log_);
  store.recover({});
  const auto& facts = store.restart_facts();
  ASSERT_TRUE(facts.seen);  // the failed job does not count
  EXPECT_EQ(facts.seen->shortest, std::chrono::milliseconds(70'000));
  EXPECT_EQ(facts.seen->longest, std::chrono::milliseconds(100'500));
  // The journal's last write, before recovery rewrote it.
  EXPECT_EQ(facts.last_alive, std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'000'000'250)));
}

// A queue file is read once: the bytes parsed are the bytes journaled. The
// file rewritten between the read (off the loop) and the take-in (on it)
// changes nothing: the batch runs what was read, active/ keeps those bytes,
// and a restart runs them again, not the file as it is now.
TEST_F(Store, AQueueFileRewrittenBetweenTheStepsRunsTheSnapshotRead) {
  const auto queue = (dir_ / "nightly.yaml").string();
  const std::string first = "jobs:\n  - project_id: a\n  - project_id: b\n";
  write("nightly.yaml", first);
  auto queued = read_queue_file(queue, {});
  ASSERT_TRUE(queued.jobs) << queued.jobs.error().message;
  write("nightly.yaml", "jobs:\n  - project_id: x\n  - project_id: y\n  - project_id: z\n");
  std::string batch;
  {
    BatchStore store(io_.get_executor(), *spool_, log_);
    store.recover({});
    auto taken = store.accept_queue_file(std::move(queued), false);
    ASSERT_TRUE(taken) << taken.error().message;
    ASSERT_TRUE(*taken);
    const auto& p = **taken;
    batch = p.id;
    ASSERT_EQ(p.specs.size(), 2u);
    EXPECT_EQ(p.specs[0].key, "nightly.yaml#a");
    EXPECT_EQ(p.specs[1].key, "nightly.yaml#b");
  }
  EXPECT_EQ(read("active/" + batch), first) << "the journaled snapshot is the bytes that were parsed";
  const auto again = recover();  // a restart: the snapshot runs, not the file as it is now
  ASSERT_EQ(again.size(), 1u);
  ASSERT_EQ(again[0].specs.size(), 2u);
  EXPECT_EQ(again[0].specs[1].key, "nightly.yaml#b");
}

TEST_F(Store, ABatchWhoseJobsAllEndedIsFiledAway) {
  write("active/" + batch_id, "jobs:\n  - project_id: a\n");
  write("journal.jsonl", header(batch_id) + rec(RecordKind::ended, batch_id, "jobs.yaml#a", "failed"));
  EXPECT_TRUE(recover().empty());
  EXPECT_TRUE(fs::exists(dir_ / "done" / batch_id));
  EXPECT_FALSE(fs::exists(dir_ / "active" / batch_id));
  const auto r = replay(read("journal.jsonl"));  // compacted: nothing left open
  for (const auto& b : r.batches) EXPECT_TRUE(b.closed);
}

TEST_F(Store, AClaimedFileWithoutItsBatchRecordIsTakenUp) {
  write("active/" + batch_id, "jobs:\n  - project_id: a\n");  // crash between claim and journal
  auto pending = recover();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].specs[0].key, "jobs.yaml#a");
  EXPECT_EQ(replay(read("journal.jsonl")).batches.size(), 1u);
}

TEST_F(Store, AClosedBatchLeftInActiveIsMovedToDone) {
  write("active/" + batch_id, "jobs:\n  - project_id: a\n");  // crash between "closed" and the move
  write("journal.jsonl", header(batch_id) + rec(RecordKind::ended, batch_id, "jobs.yaml#a") +
                             rec(RecordKind::closed, batch_id, ""));
  EXPECT_TRUE(recover().empty());
  EXPECT_TRUE(fs::exists(dir_ / "done" / batch_id));
}

TEST_F(Store, ATornJournalTailLosesNothingActedOn) {
  write("active/" + batch_id, "jobs:\n  - project_id: a\n");
  std::string text = header(batch_id) + rec(RecordKind::submit, batch_id, "jobs.yaml#a");
  write("journal.jsonl", text + rec(RecordKind::submitted, batch_id, "jobs.yaml#a").substr(0, 30));
  auto pending = recover();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].states[0].state, Recovery::in_doubt);  // ask the API before sending again
}

TEST_F(Store, DropFilesAreClaimedOrRejectedWhole) {
  BatchStore store(io_.get_executor(), *spool_, log_);
  store.recover({});
  write("incoming/good.yaml", "jobs:\n  - project_id: a\n");
  write("incoming/bad.yaml", "jobs:\n  - project_id: a\n  - project_idd: b\n");
  auto good = store.take_drop_file("good.yaml", {});
  ASSERT_TRUE(good);
  EXPECT_TRUE(fs::exists(dir_ / "active" / good->id));
  EXPECT_FALSE(fs::exists(dir_ / "incoming/good.yaml"));
  EXPECT_FALSE(store.take_drop_file("bad.yaml", {}));
  EXPECT_TRUE(fs::exists(dir_ / "rejected/bad.yaml"));
  EXPECT_NE(read("rejected/bad.yaml.error").find("bad.yaml:3:5: unknown key 'project_idd'"), std::string::npos)
      << read("rejected/bad.yaml.error");
  EXPECT_EQ(replay(read("journal.jsonl")).batches.size(), 1u);  // nothing of the bad file was journaled
}

TEST(SpoolNames, OnlyCompleteJobFilesAreTaken) {
  EXPECT_TRUE(Spool::takes("a.yaml"));
  EXPECT_TRUE(Spool::takes("a.yml"));
  EXPECT_FALSE(Spool::takes(".a.yaml"));
  EXPECT_FALSE(Spool::takes("a.yaml.tmp"));
  EXPECT_FALSE(Spool::takes("a.tmp"));
  EXPECT_FALSE(Spool::takes("a.json"));
}

}  // namespace
}  // namespace exportd
