// Video downloads against the simulator over loopback (SPEC §10), one try
// at a time, as the engine drives them: resumed after cut connections and
// restarts, started over when a range is ignored, refused links and hosts
// told apart, and every finished file checked against the simulator's bytes.

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/thread_pool.hpp>

#include "download_fixture.hpp"
#include "http/tls.hpp"
#include "manual_time.hpp"
#include "silent_host.hpp"
#include "simulator.hpp"
#include "test_certs.hpp"
#include "videos.hpp"

namespace exportd {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_F(Download, AVideoIsStreamedVerifiedAndRenamedIntoPlace) {
  sim::Simulator s({});
  const std::uint64_t size = 3 * 1024 * 1024 + 17;
  const auto url = s.finished_video("p1", size);
  VideoFile file;
  file.path = (dir_ / "nightly" / "p1.mp4").string();
  const auto out = fetch(url, file);
  ASSERT_EQ(out.end, FetchEnd::complete) << out.why;
  EXPECT_EQ(out.received, size);
  EXPECT_FALSE(fs::exists(file.path)) << "nothing under the final name before it is whole";
  const auto done = finish(file);
  ASSERT_TRUE(done) << done.error();
  EXPECT_EQ(done->bytes, size);
  EXPECT_EQ(done->sha256, sim::video_sha256("p1", size));
  EXPECT_EQ(fs::file_size(file.path), size);
  EXPECT_FALSE(fs::exists(file.part_path()));
  ASSERT_GE(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].validator, sim::video_etag("p1", size));
  EXPECT_EQ(recorded_[0].checkpoint.bytes, 0u) << "the validator is journaled before the first byte";
  EXPECT_EQ(recorded_.back().checkpoint.bytes, size) << "the whole file is vouched for before it is renamed";
  EXPECT_EQ(recorded_.back().checkpoint.sha256, sim::video_sha256("p1", size));
}

TEST_F(Download, CutConnectionsResumeFromTheBytesOnDisk) {
  sim::Knobs k;
  k.video_cut = 0.7;
  k.seed = 5;
  sim::Simulator s(k);
  const std::uint64_t size = 8 * 1024 * 1024;
  const auto url = s.finished_video("p2", size);
  VideoFile file;
  file.path = (dir_ / "p2.mp4").string();
  const int tries = fetch_until_complete(url, file);
  ASSERT_GT(tries, 1) << "the knob cut nothing";
  const auto done = finish(file);
  ASSERT_TRUE(done) << done.error();
  EXPECT_EQ(done->sha256, sim::video_sha256("p2", size));
  const auto stats = s.stats();
  EXPECT_GT(stats.video_cut, 0u);
  EXPECT_GT(stats.video_partial, 0u);
  EXPECT_EQ(stats.video_bytes_sent, size) << "each resume asked only for what was missing";
}

TEST_F(Download, AResumeAfterARestartReadsThePartBackAndAnIgnoredRangeStartsOver) {
  sim::Knobs k;
  k.video_cut = 1.0;  // every reply is cut: one try leaves a part on disk
  sim::Simulator s(k);
  const std::uint64_t size = 4 * 1024 * 1024;
  const auto url = s.finished_video("p3", size);
  const VideoFile first = cut_once(url, "p3.mp4");
  const auto had = first.part.bytes;
  ASSERT_GT(had, 0u);

  // A restarted daemon knows only the disk and what the journal recorded.
  k.video_cut = 0;
  s.set_knobs(k);
  VideoFile again = restarted(first.path);
  EXPECT_EQ(again.part.bytes, had) << "a cut try vouches for what it wrote";
  ASSERT_EQ(fetch(url, again).end, FetchEnd::complete);
  auto done = finish(again);
  ASSERT_TRUE(done) << done.error();
  EXPECT_EQ(done->sha256, sim::video_sha256("p3", size));
  EXPECT_EQ(s.stats().video_bytes_sent, size);

  // Cut once more, then a server that ignores ranges: the whole video again, from 0.
  fs::remove(again.path);
  k.video_cut = 1.0;
  s.set_knobs(k);
  VideoFile third;
  third.path = (dir_ / "p4.mp4").string();
  const auto url4 = s.finished_video("p4", size);
  ASSERT_EQ(fetch(url4, third).end, FetchEnd::cut);
  k.video_cut = 0;
  k.video_ignore_range = 1.0;
  s.set_knobs(k);
  ASSERT_EQ(fetch(url4, third).end, FetchEnd::complete);
  done = finish(third);
  ASSERT_TRUE(done) << done.error();
  EXPECT_EQ(done->sha256, sim::video_sha256("p4", size));
  EXPECT_GT(s.stats().video_ignored_ranges, 0u);
}

// A kill between the last byte and the rename leaves a whole NAME.part.
// The restarted daemon asks for the range from its end: real hosts answer
// 416 "bytes */SIZE" (nothing left), the simulator with the knob off 200
// (the whole video again). Either way the digest recorded is the video's:
// the bytes on disk are read back, not a hash of nothing.
TEST_F(Download, AWholePartResumedAfterARestartIsRecordedWithTheVideosTrueChecksum) {
  for (const bool answers_416 : {true, false}) {
    SCOPED_TRACE(answers_416 ? "416 to a range from the end" : "200 to a range from the end");
    sim::Knobs k;
    k.range_at_end_416 = answers_416;
    sim::Simulator s(k);
    const std::string id = answers_416 ? "w416" : "w200";
    const std::uint64_t size = 2 * 1024 * 1024 + 5;
    const auto url = s.finished_video(id, size);
    VideoFile first;
    first.path = (dir_ / (id + ".mp4")).string();
    ASSERT_EQ(fetch(url, first).end, FetchEnd::complete);
    ASSERT_EQ(first.part.bytes, size);

    VideoFile again = restarted(first.path);  // the restarted daemon: the disk and the journal
    ASSERT_EQ(fetch(url, again).end, FetchEnd::complete);
    EXPECT_EQ(s.stats().video_416, answers_416 ? 1u : 0u);
    const auto done = finish(again);
    ASSERT_TRUE(done) << done.error();
    EXPECT_EQ(done->bytes, size);
    EXPECT_EQ(done->sha256, sim::video_sha256(id, size));
    EXPECT_EQ(fs::file_size(again.path), size);
  }
}

// A finish that fails (here the rename: a folder stands under the final
// name) is tried again after one more fetch, which a 416 answers at once;
// the second finish, in this process or a restarted one, records the true digest.
TEST_F(Download, AFinishThatFailedOnceIsRecordedWithTheVideosTrueChecksum) {
  for (const bool restarted : {false, true}) {
    SCOPED_TRACE(restarted ? "finished again by a restarted daemon" : "finished again by the same daemon");
    sim::Simulator s({});
    const std::string id = restarted ? "f-restart" : "f-same";
    const std::uint64_t size = 1024 * 1024 + 3;
    const auto url = s.finished_video(id, size);
    VideoFile file;
    file.path = (dir_ / (id + ".mp4")).string();
    ASSERT_EQ(fetch(url, file).end, FetchEnd::complete);
    fs::create_directories(fs::path(file.path) / "in-the-way");
    ASSERT_FALSE(finish(file)) << "the rename onto a folder must fail";
    fs::remove_all(file.path);

    VideoFile again = this->restarted(file.path);
    VideoFile& next = restarted ? again : file;
    ASSERT_EQ(fetch(url, next).end, FetchEnd::complete);
    EXPECT_EQ(s.stats().video_416, 1u);
    const auto done = finish(next);
    ASSERT_TRUE(done) << done.error();
    EXPECT_EQ(done->sha256, sim::video_sha256(id, size));
  }
}

TEST_F(Download, ARefusedLinkAsksForAFreshOneAndBadLinksAreRefusedBeforeAnyRequest) {
  sim::Knobs k;
  k.link_expired = 1.0;
  sim::Simulator s(k);
  VideoFile file;
  file.path = (dir_ / "p5.mp4").string();
  const auto dead = s.finished_video("p5", 1000);
  EXPECT_EQ(fetch(dead, file).end, FetchEnd::refresh_link);
  k.link_expired = 0;
  s.set_knobs(k);
  const auto fresh = s.finished_video("p5", 1000);
  EXPECT_EQ(fetch(fresh, file).end, FetchEnd::complete);

  const auto before = s.stats().video_requests;
  for (const auto* bad : {"file:///etc/passwd", "http://example.com/v.mp4", "ftp://127.0.0.1/v.mp4",
                          "https://user:pw@127.0.0.1/v.mp4", "not a url"}) {
    VideoFile f;
    f.path = (dir_ / "bad.mp4").string();
    const auto out = fetch(bad, f);
    EXPECT_EQ(out.end, FetchEnd::failed) << bad;
    EXPECT_FALSE(fs::exists(f.part_path())) << bad;
  }
  EXPECT_EQ(s.stats().video_requests, before);
}


TEST_F(Download, AHostThatFallsSilentIsLeftAfterTheTimeoutAndTheBytesSoFarKept) {
  options_.timeout = 1s;
  for (const std::string& reply :
       {std::string(), std::string("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nETag: \"s1\"\r\n\r\n") +
                           std::string(4000, 'v')}) {
    testing::SilentHost host(reply);
    VideoFile file;
    file.path = (dir_ / ("silent" + std::to_string(reply.size()) + ".mp4")).string();
    const auto started = std::chrono::steady_clock::now();
    const auto out = fetch("http://127.0.0.1:" + std::to_string(host.port()) + "/v.mp4", file);
    EXPECT_EQ(out.end, FetchEnd::cut) << out.why;
    EXPECT_EQ(out.cause, FetchCause::silent) << out.why;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
    EXPECT_EQ(file.part.bytes, reply.empty() ? 0u : 4000u);  // kept for the resume
  }
}

// The silence timeout is kept on the injected clock (EngineTime), not the
// machine's: a try that real time leaves alone is cut when the test's clock
// passes request_timeout, and not a moment before.
TEST_F(Download, TheSilenceTimeoutKeepsTheInjectedClock) {
  testing::ManualTime time;
  options_.time = &time;
  options_.timeout = 30s;
  testing::SilentHost host("");
  VideoFile file;
  file.path = (dir_ / "fake-clock.mp4").string();
  std::optional<FetchOutcome> out;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        out = co_await fetch_video(files_.get_executor(), options_,
                                   "http://127.0.0.1:" + std::to_string(host.port()) + "/v.mp4", file,
                                   time.now() + 24h, [](const VideoFile&) -> asio::awaitable<void> { co_return; });
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io_.restart();
  // Real time passes (bounded) until the host has the request.
  const auto bound = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < bound && !host.heard()) io_.run_for(10ms);
  ASSERT_TRUE(host.heard());
  io_.run_for(100ms);
  EXPECT_FALSE(out) << "no clock time has passed";
  time.advance(29s);
  io_.run_for(100ms);
  EXPECT_FALSE(out) << "29 s of silence on a 30 s timeout";
  time.advance(2s);
  // Generous for a busy machine, and well short of the 30 s a real clock would take.
  const auto cut_by = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < cut_by && !out) io_.run_for(10ms);
  ASSERT_TRUE(out) << "not cut after 31 s of the injected clock";
  EXPECT_EQ(out->end, FetchEnd::cut) << out->why;
  EXPECT_EQ(out->cause, FetchCause::silent) << out->why;
  EXPECT_NE(out->why.find("for 30s"), std::string::npos) << out->why;  // the operator reads the limit
}

TEST_F(Download, HttpsIsVerifiedAgainstTheTrustedCa) {
  testing::make_test_certs(dir_.string(), "127.0.0.1");
  const sim::TlsFiles tls{(dir_ / "server.pem").string(), (dir_ / "server.key").string()};
  sim::Simulator s({}, "127.0.0.1", 0, &tls);
  const auto url = s.finished_video("p6", 2 * 1024 * 1024);
  ASSERT_EQ(url.rfind("https://", 0), 0u);
  VideoFile untrusted;
  untrusted.path = (dir_ / "p6-untrusted.mp4").string();
  const auto refused = fetch(url, untrusted);
  EXPECT_EQ(refused.end, FetchEnd::failed);
  EXPECT_EQ(refused.cause, FetchCause::tls_verify) << refused.why;

  options_.tls = make_client_tls_context((dir_ / "ca.pem").string());
  VideoFile file;
  file.path = (dir_ / "p6.mp4").string();
  ASSERT_EQ(fetch(url, file).end, FetchEnd::complete);
  const auto done = finish(file);
  ASSERT_TRUE(done) << done.error();
  EXPECT_EQ(done->sha256, sim::video_sha256("p6", 2 * 1024 * 1024));
}

}  // namespace
}  // namespace exportd
