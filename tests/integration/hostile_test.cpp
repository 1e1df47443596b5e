// Regression tests for issue 8's findings that need the daemon itself: a
// hostile simulator (odd tokens, ids, progress values, huge messages,
// escapes), a second instance, odd files in the spool. Each test is named
// after its finding (F01..F18) and bounds its own time; none asserts speed.

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::drop_job_file;
using testing::ProcessResult;
using testing::result_lines;
using testing::run_process;
using testing::wait_until;
using testing::run_argv;
using testing::run_once;
using testing::wait_ready;
using testing::Workspace;

const std::string fast = R"(limits:
  requests_per_second: 0
polling:
  first_poll_after: 300ms
  min_interval: 200ms
  max_interval: 1s
retry:
  max_attempts: 3
  initial_backoff: 50ms
  max_backoff: 200ms
)";

sim::Knobs quick() {
  sim::Knobs k;
  k.export_min = 300ms;
  k.export_max = 800ms;
  return k;
}


bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

bool has_control_bytes(const std::string& s) {
  for (unsigned char c : s)
    if (c == 0x1b || c == 0x07 || c == '\r') return true;
  return false;
}

std::size_t count_files(const std::string& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

// F01: a file name and a job id that are not UTF-8: refused, never exported
// (let alone twice after a restart); results.jsonl stays valid UTF-8.
TEST(Hostile, F01_NonUtf8FileNamesAndIdsAreRefusedAndNothingIsExportedTwice) {
  sim::Simulator sim(quick());
  Workspace ws("hostile-f01");
  ws.write_config(sim.port(), false, "demo-key", fast);
  {
    ChildProcess daemon(run_argv(ws));
    ASSERT_TRUE(wait_ready(ws, 30s));
    ws.write("state/incoming/.x.tmp", "jobs:\n  - project_id: name0\n");
    fs::rename(ws.path("state/incoming/.x.tmp"), ws.path("state/incoming/bad\xff\xfe.yaml"));
    ws.write("state/incoming/.y.tmp", "jobs:\n  - project_id: id0\n    id: \"x\xff\"\n");
    fs::rename(ws.path("state/incoming/.y.tmp"), ws.path("state/incoming/badid.yaml"));
    drop_job_file(ws, "good.yaml", 0, 3, "good");
    ASSERT_TRUE(wait_until([&] { return result_lines(ws) >= 3; }, 60s));
    ASSERT_TRUE(wait_until([&] { return count_files(ws.path("state/rejected")) >= 4; }, 30s));
    daemon.signal(SIGKILL);
    daemon.wait(10s);
  }
  fs::remove(ws.path("state/status.json"));  // the next one is the restarted daemon's
  ChildProcess again(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws, 30s));
  again.signal(SIGTERM);
  const auto stopped = again.wait(30s);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  const auto s = sim.stats();
  EXPECT_EQ(s.duplicate_exports, 0u);
  EXPECT_EQ(s.projects_exported, 3u) << "only the good file's jobs are exported";
  EXPECT_TRUE(fs::exists(ws.path("state/rejected/bad\xff\xfe.yaml.error")));
  EXPECT_TRUE(fs::exists(ws.path("state/rejected/badid.yaml.error")));
  EXPECT_TRUE(valid_utf8(ws.results_text()));
  for (const auto& r : ws.results()) EXPECT_EQ(r.at("status").as_string(), "succeeded");
}

// F02: a second process on the same state_dir is refused; a restart of the
// first loses and doubles nothing.
TEST(Hostile, F02_ASecondInstanceOnOneStateDirIsRefusedAndNothingIsExportedTwice) {
  sim::Simulator sim(quick());
  Workspace ws("hostile-f02");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ChildProcess first(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws, 30s));
  auto second = run_process(run_argv(ws), 30s);
  EXPECT_EQ(second.exit_code, 75) << second.err;
  EXPECT_NE(second.err.find("another exportd"), std::string::npos) << second.err;
  ws.write_export_jobs("q.yaml", 5, "q");
  auto once = run_once(ws, 30s, {"--queue", ws.path("q.yaml")});
  EXPECT_EQ(once.exit_code, 75) << once.err;

  for (int i = 0; i < 200; ++i) drop_job_file(ws, "d" + std::to_string(i) + ".yaml", i, 1, "two");
  ASSERT_TRUE(wait_until([&] { return result_lines(ws) >= 60; }, 120s));
  first.signal(SIGKILL);
  first.wait(10s);
  ChildProcess restarted(run_argv(ws));
  EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 200; }, 180s)) << result_lines(ws);
  restarted.signal(SIGTERM);
  EXPECT_EQ(restarted.wait(30s).exit_code, 0);
  const auto s = sim.stats();
  std::cout << "[ figures  ] 200 drops, second instance refused, restart: " << s.projects_exported
            << " projects exported, " << s.duplicate_exports << " twice\n";
  EXPECT_EQ(s.duplicate_exports, 0u);
  EXPECT_EQ(s.projects_exported, 200u);
  EXPECT_EQ(result_lines(ws), 200u);
}

// F03: an export whose reply is always lost, and which the check never finds
// running, ends after retry.max_attempts instead of being sent forever.
TEST(Hostile, F03_ASubmitWhoseReplyIsAlwaysLostIsNotSentForever) {
  auto k = quick();
  k.drop_exports = true;
  sim::Simulator sim(k);
  Workspace ws("hostile-f03");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ws.write_export_jobs("q.yaml", 4, "lost");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  const auto s = sim.stats();
  EXPECT_LE(s.dropped_exports, 4u * 3u) << "retry.max_attempts is 3";
  EXPECT_EQ(result_lines(ws), 4u);
}

// F04 and F16: accepted exports whose projectId is empty, null or a number
// too large for an integer are not sent again.
TEST(Hostile, F04_F16_AnAcceptedExportWithAnUnusableIdIsNotSentAgain) {
  for (const char* data : {R"({"projectId":""})", R"({"projectId":null})", R"({"projectId":99999999999999999999999})"}) {
    auto k = quick();
    k.submit_data = data;
    sim::Simulator sim(k);
    Workspace ws("hostile-f04");
    ws.write_config(sim.port(), false, "demo-key", fast);
    ws.write_export_jobs("q.yaml", 5, "odd");
    auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
    EXPECT_FALSE(r.timed_out) << data;
    const auto s = sim.stats();
    EXPECT_EQ(s.export_requests, 5u) << data;
    EXPECT_EQ(s.duplicate_exports, 0u) << data;
    EXPECT_EQ(r.out.find("-9223372036854775808"), std::string::npos) << data;
    EXPECT_EQ(ws.results_text().find("-9223372036854775808"), std::string::npos) << data;
    EXPECT_EQ(result_lines(ws), 5u) << data;
  }
}

// F05: odd drops (a folder named x.yaml, a name too long for a batch id, a
// scenes file on /dev/zero) neither stop the watcher nor the next start.
TEST(Hostile, F05_OddDropsDoNotStopTheWatcherOrTheNextStart) {
  sim::Simulator sim(quick());
  Workspace ws("hostile-f05");
  ws.write_config(sim.port(), false, "demo-key", fast);
  {
    ChildProcess daemon(run_argv(ws));
    ASSERT_TRUE(wait_ready(ws, 30s));
    fs::create_directories(ws.path("state/incoming/.dir.tmp"));
    fs::rename(ws.path("state/incoming/.dir.tmp"), ws.path("state/incoming/x.yaml"));
    drop_job_file(ws, std::string(240, 'n') + ".yaml", 0, 1, "long");
    ws.write("state/incoming/.z.tmp", "jobs:\n  - scenes_file: /dev/zero\n");
    fs::rename(ws.path("state/incoming/.z.tmp"), ws.path("state/incoming/zero.yaml"));
    drop_job_file(ws, "after.yaml", 0, 2, "after");
    EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 3; }, 60s)) << result_lines(ws);
    EXPECT_TRUE(daemon.running());
    daemon.signal(SIGKILL);
    daemon.wait(10s);
  }
  ChildProcess again(run_argv(ws));
  drop_job_file(ws, "later.yaml", 0, 1, "later");
  EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 4; }, 60s)) << result_lines(ws);
  EXPECT_TRUE(again.running());
  again.signal(SIGTERM);
  auto r = again.wait(30s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(ws.path("state/rejected/zero.yaml.error")));
}

// F06: a FIFO in incoming/, named as a scenes file, or left in active/ by a
// crash never blocks the event loop.
TEST(Hostile, F06_AFifoAnywhereNeverBlocksTheDaemon) {
  sim::Simulator sim(quick());
  Workspace ws("hostile-f06");
  ws.write_config(sim.port(), false, "demo-key", fast);
  fs::create_directories(ws.path("state/incoming"));
  fs::create_directories(ws.path("state/active"));
  ASSERT_EQ(::mkfifo(ws.path("state/active/20261125T000000Z-0001-left.yaml").c_str(), 0600), 0);
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws, 30s));
  ASSERT_EQ(::mkfifo(ws.path("state/incoming/pipe.yaml").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(ws.path("state/incoming/scenes.fifo").c_str(), 0600), 0);
  ws.write("state/incoming/.s.tmp", "jobs:\n  - scenes_file: scenes.fifo\n");
  fs::rename(ws.path("state/incoming/.s.tmp"), ws.path("state/incoming/fifo-scenes.yaml"));
  drop_job_file(ws, "after.yaml", 0, 2, "after");
  EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 2; }, 60s)) << result_lines(ws);
  EXPECT_TRUE(wait_until([&] { return fs::exists(ws.path("state/rejected/fifo-scenes.yaml.error")); }, 30s));
  daemon.signal(SIGTERM);
  auto r = daemon.wait(30s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// F07: a job file far past the cap is refused at once, in bounded memory.
TEST(Hostile, F07_AHugeJobFileIsRefusedQuicklyInBoundedMemory) {
  Workspace ws("hostile-f07");
  ws.write_config(1, false, "demo-key", fast);
  {
    std::ofstream big(ws.path("big.yaml"));
    big << "jobs:\n";
    for (int i = 0; i < 1'000'000; ++i) big << "  - project_id: 65fa6b07dca2e367461a2925\n    id: j" << i << "\n";
  }
  auto r = run_process({testing::exportd_binary(), "check", "-c", ws.path("config.yaml"), ws.path("big.yaml")}, 60s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("larger than"), std::string::npos) << r.err;
  EXPECT_LT(r.max_rss_kib, 200 * 1024) << "check must not load a file past the cap";
}

// F08: a token over 64 KiB neither crashes nor reaches a header.
TEST(Hostile, F08_AHugeTokenIsRefusedWithoutACrash) {
  auto k = quick();
  k.token_length = 70 * 1024;
  sim::Simulator sim(k);
  Workspace ws("hostile-f08");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ws.write_export_jobs("q.yaml", 3, "huge");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_EQ(r.err.find("exportd: stopped:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("token"), std::string::npos) << r.err;
  EXPECT_EQ(sim.stats().export_requests, 0u);
}

// F09: odd token replies and error messages that echo the request never put
// the token or the user key into the log, results or status.
TEST(Hostile, F09_OddTokenRepliesAndEchoedRequestsLeakNoSecret) {
  for (const std::string& body : {std::string("\xEF\xBB\xBF{\"success\":true,\"data\":{\"token\":\"{token}\"}}"),
                                 std::string("{\"success\":true,\"data\":{\"token\":\"{token}\"}} trailing")}) {
    auto k = quick();
    k.token_body = body;
    sim::Simulator sim(k);
    Workspace ws("hostile-f09");
    ws.write_config(sim.port(), false, "demo-key", fast, "  request_timeout: 2s\n");
    ws.write_export_jobs("q.yaml", 2, "tok");
    auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
    EXPECT_FALSE(r.timed_out);
    const auto everything = r.out + r.err + ws.results_text() + Workspace::read(ws.path("state/journal.jsonl"));
    for (const auto& t : sim.stats().issued_tokens) EXPECT_EQ(everything.find(t), std::string::npos) << t;
  }
  auto k = quick();
  k.user_key = "the-right-key";
  k.echo_body_in_errors = true;
  sim::Simulator sim(k);
  Workspace ws("hostile-f09-key");
  ws.write_config(sim.port(), false, "wrong-key-SECRET", fast);
  ws.write_export_jobs("q.yaml", 2, "key");
  auto r = run_once(ws, 60s, {"--queue", ws.path("q.yaml")});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ((r.out + r.err + ws.results_text()).find("wrong-key-SECRET"), std::string::npos) << r.err;
}

// F10: a token holding CR/LF is never put into a header.
TEST(Hostile, F10_ATokenWithCrLfIsNeverSentAsAHeader) {
  auto k = quick();
  k.token_extra = "\r\nX-Injected: 1";
  sim::Simulator sim(k);
  Workspace ws("hostile-f10");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ws.write_export_jobs("q.yaml", 2, "crlf");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 75) << r.err;
  const auto s = sim.stats();
  EXPECT_EQ(s.requests, s.token_requests) << "no call may carry the token";
  EXPECT_EQ(s.export_requests, 0u);
}

// F11: escapes in API text never reach the terminal; a link of another
// scheme is not a success.
TEST(Hostile, F11_EscapesInApiTextNeverReachTheTerminalAndOddLinksAreNoSuccess) {
  auto k = quick();
  k.message_prefix = "\x1b[2J\x1b]0;pwned\x07";
  k.download_url = "javascript:alert(1)";
  sim::Simulator sim(k);
  Workspace ws("hostile-f11");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ws.write("q.yaml", "jobs:\n  - project_id: missing-1\n  - project_id: fine-1\n");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(has_control_bytes(r.out)) << r.out;
  EXPECT_FALSE(has_control_bytes(r.err)) << r.err;
  for (const auto& res : ws.results()) {
    EXPECT_NE(res.at("status").as_string(), "succeeded") << boost::json::serialize(res);
    EXPECT_EQ(res.if_contains("download_url"), nullptr);
  }
  EXPECT_EQ(r.exit_code, 1);
}

// F12: SIGHUP applies requests_per_second (and max_connections).
TEST(Hostile, F12_SighupAppliesTheRequestBudget) {
  auto k = quick();
  k.export_min = 60s;
  k.export_max = 60s;
  sim::Simulator sim(k);
  Workspace ws("hostile-f12");
  const std::string before = "limits:\n  requests_per_second: 50\n  max_connections: 8\npolling:\n  first_poll_after: 200ms\n"
                             "  min_interval: 200ms\n  max_interval: 200ms\n";
  ws.write_config(sim.port(), false, "demo-key", before);
  ws.write_export_jobs("jobs.yaml", 100, "hup");
  fs::create_directories(ws.path("state/incoming"));
  fs::copy(ws.path("jobs.yaml"), ws.path("state/incoming/jobs.yaml"));
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_until([&] { return sim.stats().export_requests >= 100; }, 60s));
  ws.write_config(sim.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 2\n  max_connections: 1\npolling:\n  first_poll_after: 200ms\n"
                  "  min_interval: 200ms\n  max_interval: 200ms\n");
  daemon.signal(SIGHUP);
  // Calls already paced under the old budget drain first; then the new one holds.
  std::this_thread::sleep_for(3s);
  const auto start = sim.stats().requests;
  std::this_thread::sleep_for(4s);
  const auto sent = sim.stats().requests - start;
  std::cout << "[ figures  ] after SIGHUP to 2/s: " << sent << " requests in 4 s\n";
  EXPECT_LE(sent, 2u * 4u + 2u);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

// F13: results.jsonl removed (or rotated) under the daemon: later results are not lost.
TEST(Hostile, F13_ResultsAfterTheResultsFileWasRemovedAreNotLost) {
  sim::Simulator sim(quick());
  Workspace ws("hostile-f13");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws, 30s));
  drop_job_file(ws, "a.yaml", 0, 2, "a");
  ASSERT_TRUE(wait_until([&] { return result_lines(ws) >= 2; }, 60s));
  fs::rename(ws.path("state/results.jsonl"), ws.path("state/results-rotated.jsonl"));
  drop_job_file(ws, "b.yaml", 0, 3, "b");
  EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 3; }, 60s)) << "later results go to a new results.jsonl";
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(30s).exit_code, 0);
}

// F14: a job file rewritten in active/ after it was claimed does not change
// the batch: no accepted job vanishes, no unvalidated job is exported.
TEST(Hostile, F14_AJobFileRewrittenInActiveDoesNotChangeTheBatch) {
  auto k = quick();
  k.export_min = 30s;
  k.export_max = 30s;
  sim::Simulator sim(k);
  Workspace ws("hostile-f14");
  ws.write_config(sim.port(), false, "demo-key", fast);
  {
    ChildProcess daemon(run_argv(ws));
    ASSERT_TRUE(wait_ready(ws, 30s));
    drop_job_file(ws, "orig.yaml", 0, 3, "orig");
    ASSERT_TRUE(wait_until([&] { return sim.stats().export_requests >= 3; }, 30s));
    daemon.signal(SIGKILL);
    daemon.wait(10s);
  }
  std::string snapshot;
  for (const auto& e : fs::directory_iterator(ws.path("state/active"))) snapshot = e.path().string();
  ASSERT_FALSE(snapshot.empty());
  ws.write(fs::relative(snapshot, ws.path("")).string(), "jobs:\n  - project_id: orig0000\n  - project_id: intruder\n");
  sim.set_knobs(quick());
  ChildProcess again(run_argv(ws));
  EXPECT_TRUE(wait_until([&] { return result_lines(ws) >= 3; }, 60s)) << result_lines(ws);
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(30s).exit_code, 0);
  std::set<std::string> jobs;
  for (const auto& r : ws.results()) jobs.insert(std::string(r.at("job").as_string()));
  EXPECT_TRUE(jobs.count("orig.yaml#orig0001")) << "a submitted job has a result";
  EXPECT_TRUE(jobs.count("orig.yaml#orig0002"));
  EXPECT_FALSE(jobs.count("orig.yaml#intruder"));
  EXPECT_EQ(sim.stats().export_requests, 3u) << "nothing from the rewritten file is exported";
}

// F17: a progress value of NaN ends the job as a bad reply, not a poll every
// min_interval until the deadline.
TEST(Hostile, F17_NaNProgressEndsTheJobInsteadOfPollingToTheDeadline) {
  auto k = quick();
  k.progress_value = "\"NaN\"";
  sim::Simulator sim(k);
  Workspace ws("hostile-f17");
  ws.write_config(sim.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 0\npolling:\n  first_poll_after: 300ms\n  min_interval: 200ms\n"
                  "  max_interval: 1s\n  job_timeout: 10m\nretry:\n  max_attempts: 3\n  initial_backoff: 50ms\n"
                  "  max_backoff: 200ms\n");
  ws.write_export_jobs("q.yaml", 2, "nan");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  EXPECT_FALSE(r.timed_out);
  // Every job's progress is garbage, so the API counts as broken: the batch
  // gives up after retry.max_attempts (75, jobs resume next run) or the jobs
  // end failed (1). Never a success, never a poll every min_interval to the deadline.
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 75) << r.exit_code << r.err;
  for (const auto& res : ws.results()) EXPECT_EQ(res.at("status").as_string(), "failed");
  EXPECT_LE(sim.stats().progress_requests, 2u * 3u + 3u);
}

// F18: huge error messages are bounded in results and journal; a dropped
// file's scenes_file stays inside the drop folder, and the error does not
// tell whether the file exists.
TEST(Hostile, F18_HugeMessagesAreBoundedAndScenesFilesStayInTheDropFolder) {
  auto k = quick();
  k.error_message_bytes = 8 * 1024 * 1024;
  sim::Simulator sim(k);
  Workspace ws("hostile-f18");
  ws.write_config(sim.port(), false, "demo-key", fast);
  ws.write("q.yaml", "jobs:\n  - project_id: missing-1\n  - project_id: missing-2\n");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_LT(fs::file_size(ws.path("state/results.jsonl")), 8u * 1024);
  EXPECT_LT(fs::file_size(ws.path("state/journal.jsonl")), 64u * 1024);
  EXPECT_LT(r.err.size(), 64u * 1024);

  ChildProcess daemon(run_argv(ws));
  ASSERT_TRUE(wait_ready(ws, 30s));
  ws.write("secret.json", "[{\"scene\": 1}]");
  ws.write("state/incoming/.a.tmp", "jobs:\n  - scenes_file: " + ws.path("secret.json") + "\n");
  fs::rename(ws.path("state/incoming/.a.tmp"), ws.path("state/incoming/exists.yaml"));
  ws.write("state/incoming/.b.tmp", "jobs:\n  - scenes_file: " + ws.path("nothing.json") + "\n");
  fs::rename(ws.path("state/incoming/.b.tmp"), ws.path("state/incoming/absent.yaml"));
  ASSERT_TRUE(wait_until([&] {
    return fs::exists(ws.path("state/rejected/exists.yaml.error")) && fs::exists(ws.path("state/rejected/absent.yaml.error"));
  }, 30s));
  daemon.signal(SIGTERM);
  daemon.wait(30s);
  auto strip = [&](std::string s, const std::string& name, const std::string& path) {
    for (auto at = s.find(path); at != std::string::npos; at = s.find(path)) s.erase(at, path.size());
    for (auto at = s.find(name); at != std::string::npos; at = s.find(name)) s.erase(at, name.size());
    return s;
  };
  const auto a = Workspace::read(ws.path("state/rejected/exists.yaml.error"));
  const auto b = Workspace::read(ws.path("state/rejected/absent.yaml.error"));
  EXPECT_EQ(strip(a, "exists.yaml", ws.path("secret.json")), strip(b, "absent.yaml", ws.path("nothing.json")))
      << a << "\n" << b;
  EXPECT_NE(a.find("scenes_root"), std::string::npos) << a;
  EXPECT_EQ(sim.stats().export_requests, 0u) << "neither dropped file was exported";
}

}  // namespace
}  // namespace exportd
