// Regression tests for the defects found by adversarial testing (issue 8),
// one per finding where the finding can be shown without a process; the
// others are in tests/integration/hostile_test.cpp. Each is named after its
// finding (F01..F18).

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/video_link.hpp"
#include "api/wire.hpp"
#include "auth/token_source.hpp"
#include "jobs/export_job.hpp"
#include "jobs/job_file.hpp"
#include "ops/results.hpp"
#include "schedule/backoff.hpp"
#include "manual_time.hpp"
#include "scripted_transport.hpp"
#include "spool/journal_record.hpp"
#include "temp_dir.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ok_json;
using testing::ScriptedTransport;

const auto wall_now = std::chrono::system_clock::from_time_t(1'700'000'000);
const TimePoint t0 = TimePoint{} + 1000h;

using Scratch = testing::TempDir;

bool valid_json_line(const std::string& line) {
  boost::system::error_code ec;
  json::parse(line, ec);
  return !ec;
}

// F01: bytes that are not UTF-8 never reach the journal or results raw.
using F01 = Scratch;
TEST_F(F01, ANonUtf8JobIdIsRefusedAtCheckTimeWithItsPosition) {
  const auto path =
      write("jobs.yaml", "jobs:\n  - project_id: p1\n    id: \"caf\\xE9\"\n  - project_id: p2\n    id: ok\xff\n");
  const auto r = load_job_file(path, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("UTF-8"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().first_line().substr(0, path.size() + 3), path + ":5:") << r.error();
}

TEST(Hardening, F01_JournalAndResultsStayReadableWhateverBytesAKeyHolds) {
  JournalRecord r;
  r.kind = RecordKind::submitted;
  r.batch = "20261125T000000Z-0001-bad\xff\xfe.yaml";
  r.job = "bad\xff\xfe.yaml#id\xc3";
  r.project = "p\x80";
  // Such a key is refused at the door now (above); a journal written before
  // that rule still replays, byte for byte, so its jobs are not exported again.
  const auto line = encode(r);
  const auto back = decode(line);
  ASSERT_TRUE(back) << "a record the daemon wrote must replay";
  EXPECT_EQ(back->batch, r.batch);
  EXPECT_EQ(back->job, r.job);
  EXPECT_EQ(back->project, r.project);
  JournalRecord header;
  header.kind = RecordKind::batch;
  header.batch = r.batch;
  header.name = "bad\xff\xfe.yaml";
  const auto replayed = replay(encode(header) + "\n" + line + "\n");
  EXPECT_EQ(replayed.bad_lines, 0u);
  ASSERT_EQ(replayed.batches.size(), 1u);
  EXPECT_EQ(replayed.batches[0].jobs.at(r.job).state, Recovery::submitted) << "recognised: polled, not exported again";

  JobResult res;
  res.job = r.job;
  res.project_id = r.project;
  res.status = JobOutcome::failed;
  res.error = JobError{Errc::rejected, "c\xff", "m\xfe\x01\x1b[2J", 200};
  EXPECT_TRUE(valid_json_line(to_json_line(res))) << to_json_line(res);
}

// F03: a submit whose reply is lost while the check finds no running export
// is not sent again forever.
TEST(Hardening, F03_AnInDoubtSubmitThatNeverShowsUpEndsAfterMaxAttempts) {
  JobMachine m(PollPolicy({10s, 3s, 60s, 30min}), RetryPolicy({4, 1s, 30s}));
  ExportJob j;
  ApiError lost{Errc::transport, 0, "transport", "reading reply: timeout", {}};
  lost.maybe_processed = true;
  int submits = 0;
  auto now = t0;
  for (int i = 0; i < 100 && !is_terminal(j.state); ++i) {
    const auto step = m.step(j, now);
    if (step == StepKind::submit) {
      ++submits;
      m.on_failure(j, lost, now, 0.5);
    } else if (step == StepKind::probe) {
      m.on_probe(j, std::nullopt, now, 0.5);
    }
    now += 1min;
  }
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_LE(submits, 4);
}

// F04/F16: an accepted export whose projectId is empty, null or not a
// usable id is not treated as transient (which would send it again).
TEST(Hardening, F04_AnAcceptedExportWithoutAProjectIdIsNotRetriedAsTransient) {
  for (const char* data : {R"({"projectId":""})", R"({"projectId":null})", R"({})"}) {
    auto r = parse_submit_reply(ok_json(data), wall_now);
    if (!r)
      EXPECT_FALSE(is_transient(r.error().kind)) << data << ": " << r.error().message;
    else
      EXPECT_TRUE(r.value().project_id.empty()) << data;
  }
}

TEST(Hardening, F16_AProjectIdTooLargeForAnIntegerIsNeverTurnedIntoOne) {
  for (const char* data : {R"({"projectId":99999999999999999999999})", R"({"projectId":1e300})",
                           R"({"projectId":-1.5})", R"({"projectId":"a\u0000b"})"}) {
    auto r = parse_submit_reply(ok_json(data), wall_now);
    if (auto* s = r ? &*r : nullptr) {
      EXPECT_EQ(s->project_id.find("-9223372036854775808"), std::string::npos) << data;
      EXPECT_TRUE(s->project_id.empty()) << data << " gave " << s->project_id;
    }
  }
  auto big = parse_submit_reply(ok_json(R"({"projectId":18446744073709551615})"), wall_now);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big.value().project_id, "18446744073709551615");
}

// F07: job and scenes files are read with a size cap and only if regular.
using F07 = Scratch;
TEST_F(F07, ScenesFromDevZeroAndOversizedJobFilesAreRefusedWithoutReadingThem) {
  const auto scenes = load_scenes("/dev/zero", "");
  ASSERT_FALSE(scenes);
  EXPECT_TRUE(scenes.error().is(Errc::unreadable)) << scenes.error();
  EXPECT_NE(scenes.error().message.find("not a regular file"), std::string::npos) << scenes.error();

  std::string big = "jobs:\n";
  while (big.size() < 9u * 1024 * 1024) big += "  - project_id: 65fa6b07dca2e367461a2925aaaaaaaaaaaaaaaaaaaaaaaaa\n";
  const auto path = write("big.yaml", big);
  const auto r = load_job_file(path, {});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::unreadable)) << r.error();
  EXPECT_NE(r.error().message.find("larger than"), std::string::npos) << r.error();
}

// F08/F10: a token the API hands out is a header value: bounded, visible ASCII only.
TEST(Hardening, F08_ATokenLongerThan64KiBIsRefusedNotSent) {
  const std::string huge(70 * 1024, 'a');
  auto r = parse_token_reply(ok_json("{\"token\":\"" + huge + "\"}"), wall_now);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message.find(huge.substr(0, 64)), std::string::npos);
}

TEST(Hardening, F10_ATokenWithControlCharactersIsRefused) {
  for (const char* t : {"abc\\r\\nX-Injected: 1", "abc\\u0000", "abc def", "abc\\t"}) {
    auto r = parse_token_reply(ok_json(std::string("{\"token\":\"") + t + "\"}"), wall_now);
    EXPECT_TRUE(r.has_error()) << t;
  }
}

// F09: a token reply never ends up quoted in an error; an error that echoes
// the user key does not carry it on.
TEST(Hardening, F09_AnOddTokenReplyIsNotQuotedInItsError) {
  const std::string token = "tok-SECRET-0123456789abcdef";
  for (std::string body : {"\xEF\xBB\xBF{\"success\":true,\"data\":{\"token\":\"" + token + "\"}}",
                           "{\"success\":true,\"data\":{\"token\":\"" + token + "\"}} trailing",
                           "{\"success\":true,\"data\":{\"token\":\"" + token + "\"}"}) {
    auto r = parse_token_reply(HttpReply{200, body, ""}, wall_now);
    ASSERT_TRUE(r.has_error()) << body;
    const auto& e = r.error();
    EXPECT_EQ(e.message.find("SECRET"), std::string::npos) << e.message;
    EXPECT_EQ(e.code.find("SECRET"), std::string::npos) << e.code;
  }
}

TEST(Hardening, F09_AnApiErrorThatEchoesTheUserKeyDoesNotCarryIt) {
  boost::asio::io_context io;
  ScriptedTransport transport([](const ApiRequest& r, std::string_view) -> ApiResult<HttpReply> {
    const json::object reply{{"success", false},
                             {"error", json::object{{"code", "E1"}, {"msg", "bad request: " + r.body}}}};
    return HttpReply{200, json::serialize(reply), ""};
  });
  testing::ManualTime time;
  TokenSource tokens(io.get_executor(), transport, ApiEndpoint{}, "app", "user-key-SECRET", 23h, time);
  std::optional<ApiResult<std::string>> got;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { got = co_await tokens.get(); }, boost::asio::detached);
  io.run_for(5s);
  ASSERT_TRUE(got);
  ASSERT_TRUE((*got).has_error());
  EXPECT_EQ((*got).error().message.find("SECRET"), std::string::npos) << (*got).error().message;
}

TEST(Hardening, F09_AShortUserKeyIsCutFromMessagesButNeverBreaksTheTokenReply) {
  boost::asio::io_context io;
  ScriptedTransport transport([](const ApiRequest&, std::string_view) -> ApiResult<HttpReply> {
    return ok_json(R"({"token":"data-token-a"})");
  });
  testing::ManualTime time;
  TokenSource tokens(io.get_executor(), transport, ApiEndpoint{}, "app", "a", 23h, time);  // a key that is in every reply
  std::optional<ApiResult<std::string>> got;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { got = co_await tokens.get(); }, boost::asio::detached);
  io.run_for(5s);
  ASSERT_TRUE(got && (*got).has_value());
  EXPECT_EQ((*got).value(), "data-token-a");
}

// F11: a link of another scheme, or with CR/LF, is not a success.
TEST(Hardening, F11_OnlyHttpsLinksCountAsADownloadUrl) {
  for (const char* url : {"javascript:alert(1)", "file:///etc/passwd", "https://cdn/v.mp4\r\nX: 1", "ftp://cdn/v.mp4",
                          "https://cdn/\x1b]0;pwned\x07"}) {
    json::object data{{"progress", 100}, {"downloadUrl", url}};
    auto r = read_progress(data);
    if (r) {
      EXPECT_TRUE(r->download_url.empty()) << url;
    }
  }
  auto r = read_progress(json::object{{"progress", 100}, {"downloadUrl", "https://cdn.example.com/v.mp4?sig=a%20b"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.value().download_url, "https://cdn.example.com/v.mp4?sig=a%20b");
}

// One link rule where the reply is read and where the fetch starts
// (api/video_link.hpp): a link the fetch would refuse makes the progress
// reply malformed, so the API is asked again instead of the job failing at
// its download. `http://127.x.example` once passed here by its "127." prefix
// and was refused only by the fetch.
TEST(Hardening, ALinkTheFetchRefusesIsRefusedWhereTheReplyIsRead) {
  for (const char* url : {"http://127.x.example/v.mp4", "http://127.0.0.1.example.com/v.mp4", "http://cdn.example.com/v.mp4",
                          "https://user:pw@cdn.example.com/v.mp4", "https://cdn.example.com:65616/v.mp4",
                          "https://cdn.example.com:0/v.mp4"}) {
    EXPECT_FALSE(parse_video_url(url)) << url;
    auto r = read_progress(json::object{{"progress", 100}, {"downloadUrl", url}});
    ASSERT_FALSE(r.has_value()) << url << " was taken as a download link";
    EXPECT_EQ(r.error().kind, Errc::malformed) << url;
  }
  for (const char* url : {"http://127.0.0.1:8080/v.mp4", "http://localhost/v.mp4", "http://[::1]:9/v",
                          "https://cdn.example.com/v.mp4?sig=a%20b"}) {
    ASSERT_TRUE(parse_video_url(url)) << url;
    auto r = read_progress(json::object{{"progress", 100}, {"downloadUrl", url}});
    ASSERT_TRUE(r.has_value()) << url;
    EXPECT_EQ(r->download_url, url);
  }
}

// F13: results.jsonl deleted or rotated under the daemon: later results land in a new file.
using F13 = Scratch;
TEST_F(F13, ResultsGoToANewFileAfterTheOldOneWasRemovedOrRotated) {
  const auto path = (dir_ / "results.jsonl").string();
  ResultsFile results(path);
  JobResult r;
  r.job = "a.yaml#1";
  r.status = JobOutcome::succeeded;
  results.append(r);
  results.flush();
  fs::rename(path, (dir_ / "results-old.jsonl").string());
  r.job = "a.yaml#2";
  results.append(r);
  results.flush();
  ASSERT_TRUE(fs::exists(path));
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find("a.yaml#2"), std::string::npos) << line;
}

// F15: retry.max_attempts above 255 is counted in full.
TEST(Hardening, F15_MaxAttemptsAbove255EndsAfterExactlyThatMany) {
  JobMachine m(PollPolicy({10s, 3s, 60s, 30min}), RetryPolicy({300, 1ms, 2ms}));
  ExportJob j;
  ApiError e{Errc::overloaded, 503, "http_503", "m", {}};
  int tries = 0;
  auto now = t0;
  while (!is_terminal(j.state) && tries < 2000) {
    ++tries;
    m.on_failure(j, e, now, 0.5);
    now += 1s;
  }
  EXPECT_EQ(tries, 300);
}

// F17: progress values are parsed strictly.
TEST(Hardening, F17_ProgressMustBeAFiniteNumberFrom0To100) {
  for (json::value v :
       {json::value("NaN"), json::value("nan"), json::value("100abc"), json::value("inf"), json::value("-inf"),
        json::value(150), json::value(-3), json::value("1e999"), json::value(""), json::value(" 50")}) {
    auto r = read_progress(json::object{{"progress", v}, {"downloadUrl", "https://cdn/v.mp4"}});
    EXPECT_TRUE(r.has_error()) << json::serialize(v);
  }
  for (json::value v : {json::value(0), json::value(42.5), json::value("99.9"), json::value(100)}) {
    auto r = read_progress(json::object{{"progress", v}});
    EXPECT_TRUE(r.has_value()) << json::serialize(v);
  }
}

// F18: API strings are bounded; Retry-After is honoured; a blank id and a
// folder are refused for what they are.
TEST(Hardening, F18_AHugeApiErrorMessageIsBounded) {
  const std::string msg(8 * 1024 * 1024, 'x');
  auto r = parse_envelope(
      HttpReply{200, R"({"success":false,"error":{"code":")" + std::string(100000, 'c') + R"(","msg":")" + msg + "\"}}",
                ""},
      wall_now);
  ASSERT_TRUE(r.has_error());
  EXPECT_LE(r.error().message.size(), 1024u);
  EXPECT_LE(r.error().code.size(), 128u);
}

TEST(Hardening, F18_ALongRetryAfterIsHonouredNotCutToMaxBackoff) {
  RetryPolicy p({8, 1s, 5min});
  ApiError e{Errc::overloaded, 429, "http_429", "slow down", {}};
  e.retry_after = parse_retry_after("1800", wall_now);
  ASSERT_TRUE(e.retry_after);
  EXPECT_GE(*p.retry_after(e, 1, 0.5), 30min);
  e.retry_after = parse_retry_after("999999999", wall_now);
  const auto w = *p.retry_after(e, 1, 0.5);
  EXPECT_GE(w, 1h);  // honoured up to the documented ceiling
  EXPECT_LE(w, 1h);
}

using F18 = Scratch;
TEST_F(F18, ABlankProjectIdAndAFolderAreRefusedForWhatTheyAre) {
  const auto blank = write("blank.yaml", "jobs:\n  - project_id: \"   \"\n");
  const auto r = load_job_file(blank, {});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::invalid_input)) << r.error();
  EXPECT_NE(r.error().message.find("project_id"), std::string::npos) << r.error();

  fs::create_directories(dir_ / "x.yaml");
  const auto folder = load_job_file((dir_ / "x.yaml").string(), {});
  ASSERT_FALSE(folder);
  EXPECT_TRUE(folder.error().is(Errc::unreadable)) << folder.error();
  EXPECT_NE(folder.error().message.find("not a regular file"), std::string::npos) << folder.error();
}

}  // namespace
}  // namespace exportd
