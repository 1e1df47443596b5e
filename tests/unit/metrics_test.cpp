// /metrics and retention (SPEC §11): the exposition, the hook answers, the
// byte sizes of the config, and what is kept under state_dir.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "hooks/receiver.hpp"
#include "ops/batch_summary.hpp"
#include "ops/metrics.hpp"
#include "ops/progress_line.hpp"
#include "ops/results.hpp"
#include "ops/retention.hpp"
#include "ops/time_format.hpp"
#include "scrape.hpp"
#include "spool/spool.hpp"
#include "temp_dir.hpp"
#include "text/byte_size.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using SysTime = std::chrono::system_clock::time_point;

using testing::samples_of;

// The download rate on the progress line and in status.json: measured over
// intervals of at least two seconds, held between them.
TEST(RateMeter, TheRateIsMeasuredOverTwoSecondsAndHeldBetween) {
  using namespace std::chrono_literals;
  RateMeter m;
  const RateMeter::Time t0{};
  EXPECT_EQ(m.sample(t0, 1000), 0.0) << "nothing measured yet";
  EXPECT_EQ(m.sample(t0 + 1s, 5000), 0.0) << "a second is too short to tell";
  EXPECT_DOUBLE_EQ(m.sample(t0 + 2s, 9000), 4000.0);
  EXPECT_DOUBLE_EQ(m.sample(t0 + 3s, 100'000), 4000.0) << "held until the next interval";
  EXPECT_DOUBLE_EQ(m.sample(t0 + 6s, 9000 + 4 * 1024 * 1024), 1024.0 * 1024.0);
  EXPECT_DOUBLE_EQ(m.sample(t0 + 8s, 9000 + 4 * 1024 * 1024), 0.0) << "stopped";
}

TEST(Metrics, EverySeriesIsThereFromTheStartAndCountsWhatHappened) {
  Metrics m;
  MetricsGauges g;
  auto before = samples_of(m.render(g));
  EXPECT_EQ(before.at(R"(exportd_api_requests_total{call="progress",outcome="ok"})"), 0);
  EXPECT_EQ(before.at(R"(exportd_webhook_calls_total{outcome="unknown"})"), 0);
  EXPECT_EQ(before.at(R"(exportd_jobs_ended_total{status="timed_out"})"), 0);
  EXPECT_EQ(before.at(R"(exportd_retries_total{stage="download"})"), 0);
  EXPECT_EQ(before.at(R"(exportd_completion_lag_seconds_bucket{le="+Inf"})"), 0);

  m.api_request(ApiCall::progress, CallOutcome::ok);
  m.api_request(ApiCall::progress, CallOutcome::ok);
  m.api_request(ApiCall::export_project, CallOutcome::throttled);
  m.retry(RetryStage::submit);
  m.hook(HookOutcome::unknown);
  m.ended(JobOutcome::failed, true);
  m.ended(JobOutcome::succeeded, false);
  m.downloaded(1000);
  g.jobs.total = 10;
  g.jobs.done = 2;
  g.jobs.in_flight = 5;
  g.jobs.downloading = 1;
  g.calls_held = true;
  g.budget = 20;
  const auto after = samples_of(m.render(g));
  EXPECT_EQ(after.at(R"(exportd_api_requests_total{call="progress",outcome="ok"})"), 2);
  EXPECT_EQ(after.at(R"(exportd_api_requests_total{call="export",outcome="throttled"})"), 1);
  EXPECT_EQ(after.at(R"(exportd_retries_total{stage="submit"})"), 1);
  EXPECT_EQ(after.at(R"(exportd_webhook_calls_total{outcome="unknown"})"), 1);
  EXPECT_EQ(after.at(R"(exportd_jobs_ended_total{status="failed"})"), 1);
  EXPECT_EQ(after.at(R"(exportd_jobs_ended_total{status="succeeded"})"), 1);
  EXPECT_EQ(after.at("exportd_download_failures_total"), 1);
  EXPECT_EQ(after.at("exportd_download_bytes_total"), 1000);
  EXPECT_EQ(after.at(R"(exportd_jobs{state="queued"})"), 3);
  EXPECT_EQ(after.at(R"(exportd_jobs{state="exporting"})"), 4);
  EXPECT_EQ(after.at(R"(exportd_jobs{state="downloading"})"), 1);
  EXPECT_EQ(after.at("exportd_breaker_open"), 1);
  EXPECT_EQ(after.at("exportd_api_budget_requests_per_second"), 20);
  EXPECT_EQ(after.size(), before.size()) << "a series appeared or vanished";
}

TEST(Metrics, TheLagHistogramIsCumulativeAndItsSumIsInSeconds) {
  Metrics m;
  m.completion_lag(50ms);
  m.completion_lag(700ms);
  m.completion_lag(4000ms);
  m.completion_lag(3600s);  // past the last bucket: only in +Inf
  const auto s = samples_of(m.render({}));
  EXPECT_EQ(s.at(R"(exportd_completion_lag_seconds_bucket{le="0.1"})"), 1);
  EXPECT_EQ(s.at(R"(exportd_completion_lag_seconds_bucket{le="0.5"})"), 1);
  EXPECT_EQ(s.at(R"(exportd_completion_lag_seconds_bucket{le="1"})"), 2);
  EXPECT_EQ(s.at(R"(exportd_completion_lag_seconds_bucket{le="5"})"), 3);
  EXPECT_EQ(s.at(R"(exportd_completion_lag_seconds_bucket{le="600"})"), 3);
  EXPECT_EQ(s.at(R"(exportd_completion_lag_seconds_bucket{le="+Inf"})"), 4);
  EXPECT_EQ(s.at("exportd_completion_lag_seconds_count"), 4);
  EXPECT_DOUBLE_EQ(s.at("exportd_completion_lag_seconds_sum"), 0.05 + 0.7 + 4 + 3600);
}

TEST(Metrics, EveryFamilyHasHelpAndTypeOnceAndNoSampleOutsideOne) {
  const auto text = Metrics{}.render({});
  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed, helped;
  std::string current;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(current).second) << current << " typed twice";
    } else if (line.rfind("# HELP ", 0) == 0) {
      EXPECT_TRUE(helped.insert(line.substr(7, line.find(' ', 7) - 7)).second);
    } else {
      const auto name = line.substr(0, line.find_first_of("{ "));
      EXPECT_EQ(name.rfind(current, 0), 0u) << name << " outside its family " << current;
    }
  }
  EXPECT_EQ(typed, helped);
  EXPECT_GE(typed.size(), 15u);
}

TEST(Metrics, ACallsOutcomeComesFromItsStatus) {
  const auto with = [](int status) { return ApiResult<HttpReply>(HttpReply{status, "", ""}); };
  EXPECT_EQ(call_outcome(with(200)), CallOutcome::ok);
  EXPECT_EQ(call_outcome(with(401)), CallOutcome::refused);
  EXPECT_EQ(call_outcome(with(403)), CallOutcome::refused);
  EXPECT_EQ(call_outcome(with(429)), CallOutcome::throttled);
  EXPECT_EQ(call_outcome(with(404)), CallOutcome::client_error);
  EXPECT_EQ(call_outcome(with(503)), CallOutcome::server_error);
  EXPECT_EQ(call_outcome(ApiResult<HttpReply>(ApiError{})), CallOutcome::transport_error);
}

TEST(HookAnswers, EachRequestGetsItsStatusAndOutcome) {
  std::string asked;
  const OnHook on_hook = [&](std::string_view token) {
    asked = std::string(token);
    return token == "live" ? HookAnswer::accepted : token == "gone" ? HookAnswer::ended : HookAnswer::unknown;
  };
  auto r = answer_hook({http::verb::post, "/x/hooks/live", false}, on_hook);
  EXPECT_EQ(r.answer.status, http::status::ok);
  EXPECT_EQ(r.outcome, HookOutcome::accepted);
  EXPECT_EQ(asked, "live");
  r = answer_hook({http::verb::get, "/hooks/gone?progress=100", false}, on_hook);
  EXPECT_EQ(r.answer.status, http::status::ok);
  EXPECT_EQ(r.outcome, HookOutcome::ended);
  r = answer_hook({http::verb::get, "/hooks/forged", false}, on_hook);
  EXPECT_EQ(r.answer.status, http::status::not_found);
  EXPECT_EQ(r.outcome, HookOutcome::unknown);
  asked.clear();
  r = answer_hook({http::verb::post, "/hooks/live", true}, on_hook);
  EXPECT_EQ(r.answer.status, http::status::payload_too_large);
  EXPECT_EQ(r.outcome, HookOutcome::too_large);
  r = answer_hook({http::verb::delete_, "/hooks/live", false}, on_hook);
  EXPECT_EQ(r.answer.status, http::status::method_not_allowed);
  EXPECT_TRUE(asked.empty()) << "a refused request reached the engine";
}

TEST(ByteSize, TakesAWholeNumberAndAUnit) {
  EXPECT_EQ(parse_byte_size("256MiB"), 256ull << 20);
  EXPECT_EQ(parse_byte_size("64KiB"), 64ull << 10);
  EXPECT_EQ(parse_byte_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_byte_size("100MB"), 100'000'000ull);
  EXPECT_EQ(parse_byte_size("4096B"), 4096ull);
  EXPECT_FALSE(parse_byte_size("4096"));
  EXPECT_FALSE(parse_byte_size("1.5GiB"));
  EXPECT_FALSE(parse_byte_size("MiB"));
  EXPECT_FALSE(parse_byte_size("-1MiB"));
  EXPECT_FALSE(parse_byte_size("99999999999999TiB"));
}

TEST(Retention, FilesGoByAgeThenTheOldestBeyondTheCount) {
  const SysTime now{std::chrono::hours(24 * 1000)};
  const auto day = std::chrono::hours(24);
  std::vector<KeptFile> files{{"a", now - 40 * day}, {"b", now - 31 * day}, {"c", now - 29 * day},
                              {"d", now - 2 * day},  {"e", now - day},      {"f", now}};
  EXPECT_EQ(files_to_remove(files, {30 * day, 0}, now), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(files_to_remove(files, {30 * day, 3}, now), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(files_to_remove(files, {{}, 5}, now), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(files_to_remove(files, {{}, 0}, now).empty()) << "no limits: everything is kept";
}

TEST(Retention, RotatedNamesSortByTimeAndOnlyTheyAreTaken) {
  const SysTime t{std::chrono::milliseconds(1'795'000'000'123)};
  const auto a = rotated_results_name(t), b = rotated_results_name(t + 1ms), c = rotated_results_name(t + 1h);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_TRUE(is_rotated_results_name(a));
  EXPECT_EQ(a.size(), std::string("results-20261118T071320.123Z.jsonl").size());
  EXPECT_FALSE(is_rotated_results_name("results.jsonl"));
  EXPECT_FALSE(is_rotated_results_name("results-20261118T071320.123Z.jsonl.tmp"));
  EXPECT_FALSE(is_rotated_results_name("results-2026111xT071320.123Z.jsonl"));
}

using RetentionFiles = testing::TempDir;

void age(const fs::path& p, std::chrono::hours by) {
  const auto t = std::chrono::system_clock::now() - by;
  const auto secs = std::chrono::system_clock::to_time_t(t);
  const timespec times[2] = {{secs, 0}, {secs, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
}

TEST_F(RetentionFiles, ResultsAreRotatedPastTheSizeAndEachLineIsInExactlyOneFile) {
  const auto path = (dir_ / "results.jsonl").string();
  std::set<std::string> written;
  {
    ResultsFile f(path);
    f.rotate_past(4096, 0);
    for (int i = 0; i < 200; ++i) {
      JobResult r;
      r.job = "q.yaml#job" + std::to_string(i);
      r.status = JobOutcome::succeeded;
      f.append(r);
      written.insert(r.job);
      if (i % 7 == 0) f.flush();  // some flushes carry several lines
    }
    f.flush();
    EXPECT_GE(f.rotations(), 3u);
    EXPECT_EQ(f.rotated().size(), f.rotations());
  }
  std::multiset<std::string> seen;
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    const auto name = e.path().filename().string();
    EXPECT_TRUE(name == "results.jsonl" || is_rotated_results_name(name)) << name;
    if (name != "results.jsonl") {
      EXPECT_GE(fs::file_size(e.path()), 4096u) << "rotated before it was full";
    }
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      const auto at = line.find("\"job\":\"") + 7;
      seen.insert(line.substr(at, line.find('"', at) - at));
    }
  }
  EXPECT_GE(files, 4u);
  EXPECT_EQ(seen.size(), written.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), written) << "a line lost or written twice";
}

TEST_F(RetentionFiles, RotationKeepsTheNewestFiles) {
  const auto path = (dir_ / "results.jsonl").string();
  ResultsFile f(path);
  f.rotate_past(4096, 2);
  for (int i = 0; i < 300; ++i) {
    f.append_line(std::string(100, 'x'));
    f.flush();
  }
  const auto rotated = rotated_results_in(dir_.string());
  EXPECT_EQ(rotated.size(), 2u);
  EXPECT_EQ(dir_ / rotated.back(), fs::path(f.rotated().back())) << "the newest was removed";
}

TEST_F(RetentionFiles, DoneRejectedAndRotatedResultsAreKeptWithinAgeAndCount) {
  Spool spool(dir_.string());
  const auto touch = [](const std::string& p) { std::ofstream(p) << "x"; };
  for (int i = 0; i < 6; ++i) touch(spool.done() + "/b" + std::to_string(i) + ".yaml");
  age(spool.done() + "/b0.yaml", std::chrono::hours(24 * 40));
  age(spool.done() + "/b1.yaml", std::chrono::hours(24 * 31));
  touch(spool.rejected() + "/old.yaml");
  touch(spool.rejected() + "/old.yaml.error");
  age(spool.rejected() + "/old.yaml", std::chrono::hours(24 * 35));
  age(spool.rejected() + "/old.yaml.error", std::chrono::hours(24 * 35));
  touch(spool.rejected() + "/new.yaml");
  touch(spool.rejected() + "/new.yaml.error");
  const auto old_results = spool.root() + "/" + rotated_results_name(std::chrono::system_clock::now() - 24h * 40);
  touch(old_results);
  age(old_results, std::chrono::hours(24 * 40));
  touch(spool.root() + "/" + rotated_results_name(std::chrono::system_clock::now()));
  touch(spool.results_path());
  touch(spool.incoming() + "/waiting.yaml");
  age(spool.incoming() + "/waiting.yaml", std::chrono::hours(24 * 400));

  RetentionSettings r;
  r.done_days = 30;
  r.done_max_files = 3;
  const auto p = prune_spool(spool, r, std::chrono::system_clock::now());
  EXPECT_EQ(p.done, 3u);  // two by age, one more by count
  EXPECT_EQ(p.rejected, 1u);
  EXPECT_EQ(p.results, 1u);
  EXPECT_FALSE(fs::exists(spool.done() + "/b0.yaml"));
  EXPECT_FALSE(fs::exists(spool.done() + "/b2.yaml")) << "the oldest beyond the count stays";
  EXPECT_TRUE(fs::exists(spool.done() + "/b5.yaml"));
  EXPECT_FALSE(fs::exists(spool.rejected() + "/old.yaml.error")) << "an error file outlived its job file";
  EXPECT_TRUE(fs::exists(spool.rejected() + "/new.yaml.error"));
  EXPECT_FALSE(fs::exists(old_results));
  EXPECT_TRUE(fs::exists(spool.results_path()));
  EXPECT_TRUE(fs::exists(spool.incoming() + "/waiting.yaml")) << "retention touched incoming/";
}

}  // namespace
}  // namespace exportd

namespace exportd {
namespace {

TEST(BatchSummaries, CountEachBatchsOutcomesFailuresAndVideosNewestFirst) {
  BatchSummaries s;
  const auto line = [](std::string batch, std::string status, std::string extra, std::string finished) {
    return R"({"job":"j","batch":")" + batch + R"(","status":")" + status + R"(","submitted_at":"2026-11-26T01:00:0)" +
           (batch == "b1" ? "1" : "5") + R"(Z","finished_at":")" + finished + R"(","requests":3)" + extra + "}";
  };
  s.add_line(line("b1", "succeeded", R"(,"file":"/v/a.mp4","bytes":1000)", "2026-11-26T01:10:00Z"));
  s.add_line(line("b1", "failed", R"(,"error":{"code":"download_failed","message":"m"})", "2026-11-26T01:20:00Z"));
  s.add_line(line("b1", "failed", R"(,"error":{"code":"download_failed","message":"m"})", "2026-11-26T01:05:00Z"));
  s.add_line(line("b1", "timed_out", "", "2026-11-26T01:15:00Z"));
  s.add_line(line("b2", "succeeded", R"(,"file":"/v/b.mp4","bytes":24)", "2026-11-26T02:00:00Z"));
  s.add_line("not json");
  s.add_line(R"({"job":"x","status":"exploded"})");
  const auto latest = s.latest(5);
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest[0].batch, "b2");
  const auto& b1 = latest[1];
  EXPECT_EQ(b1.jobs(), 4u);
  EXPECT_EQ(b1.succeeded, 1u);
  EXPECT_EQ(b1.failed, 2u);
  EXPECT_EQ(b1.timed_out, 1u);
  EXPECT_EQ(b1.failures.at("download_failed"), 2u);
  EXPECT_EQ(b1.failures.at("timed_out"), 1u);
  EXPECT_EQ(b1.videos, 1u);
  EXPECT_EQ(b1.video_bytes, 1000u);
  EXPECT_EQ(b1.requests, 12u);
  EXPECT_EQ(rfc3339(*b1.started), "2026-11-26T01:00:01.000Z");
  EXPECT_EQ(rfc3339(*b1.ended), "2026-11-26T01:20:00.000Z");
  EXPECT_EQ(s.latest(1).size(), 1u);
}

TEST(BatchSummaries, ManyErrorCodesAreBoundedAndHostileTextIsMadeSafe) {
  BatchSummaries s;
  for (int i = 0; i < 100; ++i)
    s.add_line(R"({"batch":"b\u001b[31m","status":"failed","error":{"code":"E)" + std::to_string(i) + R"("}})");
  const auto b = s.latest(1).at(0);
  EXPECT_LE(b.failures.size(), 21u);
  EXPECT_EQ(b.failures.at("other"), 80u);
  EXPECT_EQ(b.batch.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace exportd
