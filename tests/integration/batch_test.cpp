// exportd run --once against the simulator over loopback, HTTP and HTTPS.
// Every exportd run is bounded by its own timeout.

#include <filesystem>

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "test_certs.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using testing::ProcessResult;
using testing::run_process;
using testing::run_once;
using testing::Workspace;
using Millis = std::chrono::milliseconds;

// Fast polling so a batch of 2-5 s exports takes seconds, and no rate cap.
const std::string fast = R"(limits:
  requests_per_second: 0
polling:
  first_poll_after: 1s
  min_interval: 250ms
  max_interval: 5s
retry:
  initial_backoff: 100ms
  max_backoff: 2s
)";

sim::Knobs quick(Millis min = 1000ms, Millis max = 2000ms) {
  sim::Knobs k;
  k.export_min = min;
  k.export_max = max;
  return k;
}

std::size_t count_status(const std::vector<boost::json::object>& rs, std::string_view status) {
  std::size_t n = 0;
  for (const auto& r : rs) n += r.at("status").as_string() == status;
  return n;
}

TEST(Batch, ExportAndCreateJobsAllSucceedWithOneTokenAndOneExportEach) {
  sim::Simulator sim(quick());
  Workspace ws("batch-small");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ws.write_export_jobs("exports.yaml", 30);
  ws.write("scenes/welcome.json", R"([{"sceneIdx":0,"background":{},"clips":[]}])");
  ws.write("creates.yaml", "jobs:\n  - scenes_file: scenes/welcome.json\n    name: A\n    id: a\n"
                           "  - scenes_file: scenes/welcome.json\n    name: B\n    id: b\n");
  auto r = run_once(ws, 60s, {"--queue", ws.path("exports.yaml"), "--queue", ws.path("creates.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto results = ws.results();
  ASSERT_EQ(results.size(), 32u);
  EXPECT_EQ(count_status(results, "succeeded"), 32u);
  for (const auto& j : results) {
    EXPECT_EQ(j.at("attempts").as_int64(), 1) << boost::json::serialize(j);
    EXPECT_GE(j.at("requests").as_int64(), 2);
    EXPECT_TRUE(j.at("download_url").is_string());
    EXPECT_TRUE(j.at("submitted_at").is_string());
    EXPECT_TRUE(j.at("finished_at").is_string());
  }
  const auto s = sim.stats();
  EXPECT_EQ(s.token_requests, 1u);
  EXPECT_EQ(s.export_requests, 32u);
  EXPECT_EQ(s.duplicate_exports, 0u);
  EXPECT_EQ(s.auth_header_with_bearer, 0u);
  EXPECT_NE(r.out.find("32 jobs: 32 succeeded, 0 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("creates.yaml#a"), std::string::npos) << r.out;  // the results table
}

TEST(Batch, AThousandJobsOneTokenOneExportPerJob) {
  sim::Simulator sim(quick(2000ms, 5000ms));
  Workspace ws("batch-1000");
  ws.write_config(sim.port(), false, "demo-key", fast + "queue_files: [big.yaml]\n");
  ws.write_export_jobs("big.yaml", 1000);
  auto r = run_once(ws, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  const auto results = ws.results();
  EXPECT_EQ(results.size(), 1000u);
  EXPECT_EQ(count_status(results, "succeeded"), 1000u);
  const auto s = sim.stats();
  EXPECT_EQ(s.token_requests, 1u);
  EXPECT_EQ(s.export_requests, 1000u);
  EXPECT_EQ(s.projects_exported, 1000u);
  EXPECT_EQ(s.duplicate_exports, 0u);
  std::cout << "[ figures  ] 1000 jobs in " << r.wall_seconds << " s, " << s.requests << " API calls ("
            << static_cast<double>(s.requests) / 1000.0 << " per job), " << s.token_requests << " token request\n";
}

TEST(Batch, ShortLivedTokenIsRenewedAboutOncePerLifetimeNotPerJob) {
  auto k = quick(5500ms, 6500ms);
  k.token_lifetime = 2000ms;
  sim::Simulator sim(k);
  Workspace ws("batch-token");
  ws.write_config(sim.port(), false, "demo-key", fast + "queue_files: [jobs.yaml]\n");
  ws.write_export_jobs("jobs.yaml", 200);
  auto r = run_once(ws, 90s);
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  EXPECT_EQ(count_status(ws.results(), "succeeded"), 200u);
  const auto s = sim.stats();
  const double lifetimes = r.wall_seconds / 2.0;
  std::cout << "[ figures  ] " << r.wall_seconds << " s run, " << s.token_requests << " token requests (run/2s = "
            << lifetimes << "), " << s.unauthorized << " calls refused for an expired token\n";
  // Renewed as tokens run out, about once per lifetime the run lived through
  // (a slower run only lives through more), never once per job.
  EXPECT_GE(s.token_requests, 2u);
  EXPECT_LE(static_cast<double>(s.token_requests), lifetimes + 2.0);
  EXPECT_LT(s.token_requests, 200u / 10u);
  EXPECT_EQ(s.duplicate_exports, 0u);
}

TEST(Batch, ExpiredTokenReportedAsHttp200IsRenewedToo) {
  auto k = quick(2500ms, 3000ms);
  k.token_lifetime = 1000ms;
  k.expired_as_200 = true;
  sim::Simulator sim(k);
  Workspace ws("batch-expired200");
  ws.write_config(sim.port(), false, "demo-key", fast + "queue_files: [jobs.yaml]\n");
  ws.write_export_jobs("jobs.yaml", 20);
  auto r = run_once(ws, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_status(ws.results(), "succeeded"), 20u);
  EXPECT_GE(sim.stats().token_requests, 2u);
}

TEST(Batch, TheIdTheExportAnswersIsTheOnePolled) {
  auto k = quick();
  k.new_id_on_export = true;
  sim::Simulator sim(k);
  Workspace ws("batch-newid");
  ws.write_config(sim.port(), false, "demo-key", fast + "queue_files: [jobs.yaml]\n");
  ws.write_export_jobs("jobs.yaml", 5);
  auto r = run_once(ws, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& j : ws.results()) {
    EXPECT_EQ(j.at("status").as_string(), "succeeded");
    EXPECT_EQ(std::string(j.at("project_id").as_string()).rfind("exp", 0), 0u) << boost::json::serialize(j);
  }
}

TEST(Batch, UnknownProjectsFailWithTheApiCodeAndAreNotRetried) {
  sim::Simulator sim(quick());
  Workspace ws("batch-unknown");
  ws.write_config(sim.port(), false, "demo-key", fast + "queue_files: [good.yaml, bad.yaml]\n");
  ws.write_export_jobs("good.yaml", 20);
  ws.write_export_jobs("bad.yaml", 10, "missing-");
  auto r = run_once(ws, 60s);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto results = ws.results();
  ASSERT_EQ(results.size(), 30u);
  EXPECT_EQ(count_status(results, "succeeded"), 20u);
  for (const auto& j : results) {
    if (j.at("status").as_string() != "failed") continue;
    EXPECT_EQ(j.at("error").at("code").as_string(), "PROJECT_NOT_FOUND");
    EXPECT_EQ(j.at("requests").as_int64(), 1);  // one call, no retry loop
    EXPECT_TRUE(j.at("submitted_at").is_null());
  }
  EXPECT_EQ(count_status(results, "failed"), 10u);
}

TEST(Batch, RefusedCredentialsExitThreeAndFailNoJob) {
  sim::Simulator sim(quick());
  Workspace ws("batch-badkey");
  ws.write_config(sim.port(), false, "wrong-key", fast + "queue_files: [jobs.yaml]\n");
  ws.write_export_jobs("jobs.yaml", 10);
  auto r = run_once(ws, 30s);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_LE(sim.stats().token_requests, 2u) << "a refused key is not retried in a batch";
  EXPECT_EQ(ws.results_text(), "");
  EXPECT_NE(r.err.find("refused the credentials"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wrong-key"), std::string::npos) << r.err;
}

TEST(Batch, ApiDownEndsWithExitSeventyFive) {
  Workspace ws("batch-down");
  ws.write("user_key", "demo-key\n");
  ws.write("config.yaml", "api:\n  base_url: http://127.0.0.1:1\n  app_id: a\n  user_key_file: user_key\n"
                          "state_dir: state\nqueue_files: [jobs.yaml]\n"
                          "retry:\n  max_attempts: 2\n  initial_backoff: 50ms\n  max_backoff: 100ms\n");
  ws.write_export_jobs("jobs.yaml", 3);
  auto r = run_once(ws, 30s);
  EXPECT_EQ(r.exit_code, 75) << r.err;
  // Jobs that spent their two attempts before the breaker opened fail; the
  // rest stay unfinished for the next run once the probes give up.
  EXPECT_NE(r.err.find("connect to 127.0.0.1:1: Connection refused"), std::string::npos) << r.err;
  const auto results = ws.results();
  EXPECT_LE(results.size(), 3u);
  for (const auto& j : results) {
    EXPECT_EQ(j.at("error").at("code").as_string(), "transport");
    EXPECT_EQ(j.at("attempts").as_int64(), 0);  // no export request ever left
  }
}

TEST(Batch, TransientFaultsAreRetriedWithoutDuplicateExports) {
  auto k = quick();
  k.rate_5xx = 0.05;
  k.rate_429 = 0.05;
  k.rate_html = 0.02;
  k.rate_drop = 0.02;
  sim::Simulator sim(k);
  Workspace ws("batch-faults");
  ws.write_config(sim.port(), false, "demo-key", fast + "queue_files: [jobs.yaml]\n");
  ws.write_export_jobs("jobs.yaml", 100);
  auto r = run_once(ws, 90s);
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 3000);
  EXPECT_EQ(count_status(ws.results(), "succeeded"), 100u);
  const auto s = sim.stats();
  EXPECT_GT(s.injected_faults, 0u);
  EXPECT_EQ(s.duplicate_exports, 0u);
  EXPECT_NE(r.err.find("retrying"), std::string::npos);
}

class Https : public ::testing::Test {
 protected:
  static sim::TlsFiles certs(const Workspace& ws, const std::string& host) {
    testing::make_test_certs(ws.path("pki"), host);
    return {ws.path("pki/server.pem"), ws.path("pki/server.key")};
  }
};

TEST_F(Https, TestCaInCaFileIsTrusted) {
  Workspace ws("https-ok");
  const auto files = certs(ws, "127.0.0.1");
  sim::Simulator sim(quick(), "127.0.0.1", 0, &files);
  ws.write_config(sim.port(), true, "demo-key", fast + "queue_files: [jobs.yaml]\n", "  ca_file: pki/ca.pem\n");
  ws.write_export_jobs("jobs.yaml", 20);
  auto r = run_once(ws, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_status(ws.results(), "succeeded"), 20u);
  EXPECT_EQ(sim.stats().token_requests, 1u);
}

TEST_F(Https, ACertificateForAnotherHostIsRefusedAndNothingSucceeds) {
  Workspace ws("https-wronghost");
  const auto files = certs(ws, "wrong.example");
  sim::Simulator sim(quick(), "127.0.0.1", 0, &files);
  ws.write_config(sim.port(), true, "demo-key", fast + "queue_files: [jobs.yaml]\n", "  ca_file: pki/ca.pem\n");
  ws.write_export_jobs("jobs.yaml", 5);
  auto r = run_once(ws, 30s);
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_NE(r.err.find("TLS certificate verification failed for 127.0.0.1: IP address mismatch"), std::string::npos)
      << r.err;
  EXPECT_EQ(count_status(ws.results(), "succeeded"), 0u);
  EXPECT_EQ(sim.stats().export_requests, 0u);
}

TEST_F(Https, AnUntrustedCaIsRefused) {
  Workspace ws("https-untrusted");
  const auto files = certs(ws, "127.0.0.1");
  sim::Simulator sim(quick(), "127.0.0.1", 0, &files);
  ws.write_config(sim.port(), true, "demo-key", fast + "queue_files: [jobs.yaml]\n");  // no ca_file
  ws.write_export_jobs("jobs.yaml", 2);
  auto r = run_once(ws, 30s);
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_NE(r.err.find("unable to get local issuer certificate"), std::string::npos) << r.err;
}

TEST(Secrets, NeitherUserKeyNorAnyTokenAppearsInOutputOrResults) {
  auto k = quick();
  k.user_key = "uk-4f9a1c7e2b-SECRET";
  k.token_lifetime = 1500ms;  // several tokens over the run
  k.rate_5xx = 0.05;
  sim::Simulator sim(k);
  for (const char* format : {"text", "json"}) {
    Workspace ws(std::string("secrets-") + format);
    ws.write_config(sim.port(), false, k.user_key,
                    fast + "queue_files: [jobs.yaml, bad.yaml]\nlog:\n  level: debug\n  format: " + format + "\n");
    ws.write_export_jobs("jobs.yaml", 20);
    ws.write_export_jobs("bad.yaml", 2, "missing-");
    auto r = run_once(ws, 60s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto everything = r.out + r.err + ws.results_text();
    EXPECT_EQ(everything.find(k.user_key), std::string::npos);
    const auto s = sim.stats();
    ASSERT_GE(s.issued_tokens.size(), 2u);
    for (const auto& t : s.issued_tokens) EXPECT_EQ(everything.find(t), std::string::npos) << t;
  }
}

TEST(Check, BrokenFilesAreReportedWithFileLineColumnAndExitTwo) {
  Workspace ws("check");
  ws.write("user_key", "k\n");
  const auto good = ws.write("good.yaml", "api:\n  app_id: a\n  user_key_file: user_key\nstate_dir: s\n");
  const auto jobs = ws.write("jobs.yaml", "jobs:\n  - project_id: a\n  - project_id: b\n");
  auto ok = run_process({testing::exportd_binary(), "check", "-c", good, jobs}, 10s);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;

  const std::vector<std::pair<std::string, std::string>> broken_configs = {
      {"api:\n  app_id: a\n  user_key_file: k\n  timeout: 5s\n", ":4:3: unknown key 'timeout'"},
      {"api:\n  app_id: a\n  user_key_file: k\npolling:\n  min_interval: fast\n", ":5:17: 'min_interval'"},
      {"api:\n  app_id: a\n  user_key_file: k\n  base_url: http://app.aistudios.com\n", ":4:13: api.base_url"},
      {"api:\n  app_id: a\n  user_key_file: k\nlimits: {max_connections: -1}\n", ":4:27: 'max_connections'"},
      {"api: [\n", ":2:1: YAML syntax error"},
  };
  for (const auto& [text, expected] : broken_configs) {
    const auto path = ws.write("broken.yaml", text);
    auto r = run_process({testing::exportd_binary(), "check", "-c", path}, 10s);
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_NE(r.err.find(path + expected), std::string::npos) << r.err;
  }
  const std::vector<std::pair<std::string, std::string>> broken_jobs = {
      {"jobs:\n  - project_id: a\n    resolution: 8k\n", ":3:17: resolution '8k'"},
      {"jobs:\n  - project_id: a\n  - project_id: a\n", ":3:5: duplicate job id 'a'"},
      {"jobs:\n  - scenes_file: none.json\n", ":2:18: cannot open scenes file"},
      {"jobs:\n  - projectid: a\n", ":2:5: unknown key 'projectid'"},
  };
  for (const auto& [text, expected] : broken_jobs) {
    const auto path = ws.write("broken-jobs.yaml", text);
    auto r = run_process({testing::exportd_binary(), "check", "-c", good, path}, 10s);
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_NE(r.err.find(path + expected), std::string::npos) << r.err;
  }
  // With downloads on, each job's video file is made too: one that would leave
  // download.dir, or two jobs writing one file, are caught by check.
  const auto downloading = ws.write("downloading.yaml", "api:\n  app_id: a\n  user_key_file: user_key\nstate_dir: s\n"
                                                        "download:\n  dir: videos\n  name: \"{project_id}.mp4\"\n");
  const std::vector<std::pair<std::string, std::string>> clashing = {
      {"jobs:\n  - project_id: a\n  - project_id: a\n    id: second\n", ":3:5: job 'second' would download to the same file as job 'a'"},
      {"jobs:\n  - project_id: ../etc/x\n", ":2:17: the video's file name cannot be made: {project_id} holds '/'"},
  };
  for (const auto& [text, expected] : clashing) {
    const auto path = ws.write("clashing-jobs.yaml", text);
    auto r = run_process({testing::exportd_binary(), "check", "-c", downloading, path}, 10s);
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_NE(r.err.find(path + expected), std::string::npos) << r.err;
  }
}

// `exportd check` is a preflight, like `nginx -t`: what `run` would refuse at
// start, check refuses, at the setting's FILE:LINE:COL, with exit 2; and run
// says the same lines (one place makes both checks). On the main before this
// test, check said "ok" to every config here.
TEST(Check, APreflightRefusesWhatRunWouldRefuseAtTheSettingsLine) {
  Workspace ws("check-preflight");
  const std::string secret = "user-key-SECRET-42";
  ws.write("user_key", secret + "\n");
  ws.write("bad.pem", "not a certificate\n");
  ws.write("a-file", "a file, not a folder\n");
  struct Case {
    std::string config;
    std::string expected;  // after the config's path
  };
  const std::vector<Case> cases = {
      {"api:\n  app_id: a\n  user_key_file: missing_key\nstate_dir: s\n", ":3:18: cannot read the user key file"},
      {"api:\n  app_id: a\n  user_key_file: user_key\n  ca_file: bad.pem\nstate_dir: s\n", ":4:12: api.ca_file"},
      {"api:\n  app_id: a\n  user_key_file: user_key\nstate_dir: a-file\n", ":4:12: state_dir: cannot create"},
      {"api:\n  app_id: a\n  user_key_file: user_key\nstate_dir: s\ndownload:\n  dir: /proc/nope\n",
       ":6:8: download.dir: cannot create /proc/nope"},
      {"api:\n  app_id: a\n  user_key_file: user_key\nstate_dir: s\ndownload:\n  dir: a-file/videos\n",
       ":6:8: download.dir: cannot create"},
  };
  for (const auto& c : cases) {
    const auto path = ws.write("config.yaml", c.config);
    auto r = run_process({testing::exportd_binary(), "check", "-c", path}, 10s);
    EXPECT_EQ(r.exit_code, 2) << c.config << r.err;
    EXPECT_NE(r.err.find(path + c.expected), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find(": ok"), std::string::npos) << r.out;
    EXPECT_EQ((r.out + r.err).find(secret), std::string::npos) << "the key's content was printed";
    // run makes the same checks at start and says the same line.
    auto run = run_process({testing::exportd_binary(), "run", "-c", path, "--once"}, 20s);
    EXPECT_NE(run.exit_code, 0);
    EXPECT_NE(run.err.find(path + c.expected), std::string::npos) << run.err;
  }
  EXPECT_FALSE(std::filesystem::exists(ws.path("s"))) << "check made state_dir: a preflight leaves nothing behind";
  // A sound config passes, and a state_dir that does not exist yet is fine: it can be made.
  const auto good = ws.write("config.yaml", "api:\n  app_id: a\n  user_key_file: user_key\nstate_dir: s/deeper\n"
                                            "download:\n  dir: videos\n");
  auto ok = run_process({testing::exportd_binary(), "check", "-c", good}, 10s);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find(good + ": ok"), std::string::npos) << ok.out;
  EXPECT_FALSE(std::filesystem::exists(ws.path("videos"))) << "check made download.dir";
  EXPECT_FALSE(std::filesystem::exists(ws.path("s"))) << "check made state_dir";
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_process({testing::exportd_binary(), "frobnicate"}, 5s).exit_code, 2);
  EXPECT_EQ(run_process({testing::exportd_binary(), "run"}, 5s).exit_code, 2);  // no -c
  auto v = run_process({testing::exportd_binary(), "--version"}, 5s);
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("exportd "), std::string::npos);
  EXPECT_EQ(run_process({testing::exportd_binary(), "--help"}, 5s).exit_code, 0);
}

}  // namespace
}  // namespace exportd
