// Issue 25: a video host that lies, stalls or plays tricks, scripted on
// loopback, against one download try at a time (the engine's own tries).
// Each test is named after its finding (H01..H12) and bounds its own time;
// none asserts speed. The promise under test: a verified video under its
// name, or nothing, and never a byte written outside download.dir.

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>

#include "api/video_link.hpp"
#include "download_fixture.hpp"
#include "manual_time.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "test_certs.hpp"
#include "videos.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using tcp = asio::ip::tcp;

// A video host on 127.0.0.1 that answers each connection as the test's
// script says, over plain HTTP or TLS. Each connection has a thread of its
// own, joined when the host goes; a send that the client no longer reads
// gives up after 2 s.
class ScriptedHost {
 public:
  struct Conn {
    std::string request;                         // the request's head, as it came
    std::function<bool(std::string_view)> send;  // false once the client is gone
    const std::atomic<bool>* stopping;
  };
  using Script = std::function<void(Conn&)>;

  explicit ScriptedHost(Script script, std::optional<std::string> tls_dir = std::nullopt)
      : script_(std::move(script)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    if (tls_dir) {
      tls_.emplace(asio::ssl::context::tls_server);
      tls_->use_certificate_chain_file(*tls_dir + "/server.pem");
      tls_->use_private_key_file(*tls_dir + "/server.key", asio::ssl::context::pem);
    }
    accepting_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptedHost() {
    stopping_ = true;
    {  // wake the blocking accept
      boost::system::error_code ec;
      tcp::socket poke(io_);
      poke.connect(acceptor_.local_endpoint(), ec);
    }
    accepting_.join();
    std::lock_guard lock(mutex_);
    for (auto& t : conns_) t.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/v.mp4") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      std::lock_guard lock(mutex_);
      conns_.emplace_back([this, s = std::move(s)]() mutable { serve(std::move(s)); });
    }
  }
  template <class Stream>
  void talk(Stream& stream) {
    asio::streambuf in;
    boost::system::error_code ec;
    const auto n = asio::read_until(stream, in, "\r\n\r\n", ec);
    if (ec) return;
    Conn c;
    c.request.assign(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + static_cast<std::ptrdiff_t>(n));
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(c.request);
    }
    c.send = [&](std::string_view data) {
      boost::system::error_code wec;
      asio::write(stream, asio::buffer(data.data(), data.size()), wec);
      return !wec;
    };
    c.stopping = &stopping_;
    script_(c);
  }
  void serve(tcp::socket s) {
    const timeval two_seconds{2, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &two_seconds, sizeof two_seconds);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
    if (!tls_) {
      talk(s);
      return;
    }
    asio::ssl::stream<tcp::socket&> stream(s, *tls_);
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) talk(stream);
  }

  Script script_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::optional<asio::ssl::context> tls_;
  std::atomic<bool> stopping_{false};
  std::thread accepting_;
  std::mutex mutex_;
  std::vector<std::thread> conns_;
  std::vector<std::string> requests_;
};

// Sends `total` bytes of 'v' in pieces of `piece`, `pause` apart; stops when the client goes.
void dribble(ScriptedHost::Conn& c, std::uint64_t total, std::size_t piece, std::chrono::milliseconds pause) {
  const std::string chunk(piece, 'v');
  for (std::uint64_t sent = 0; sent < total && !*c.stopping; sent += piece) {
    if (!c.send(std::string_view(chunk).substr(0, std::min<std::uint64_t>(piece, total - sent)))) return;
    std::this_thread::sleep_for(pause);
  }
}

class HostileHost : public Download {};

// H01: a body that never ends, or claims a terabyte and trickles, kept
// writing past the job's deadline. Now a try ends at the deadline (the part
// kept), a length over download.max_bytes is refused before a byte is
// written, and a body without a length stops at that bound.
TEST_F(HostileHost, H01_TheDeadlineAndTheSizeBoundEndEveryTry) {
  ScriptedHost endless([](ScriptedHost::Conn& c) {
    if (!c.send("HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nConnection: close\r\n\r\n")) return;
    dribble(c, ~0ull, 1000, 20ms);  // until the client goes
  });
  VideoFile file;
  file.path = (dir_ / "endless.mp4").string();
  const auto started = std::chrono::steady_clock::now();
  const auto out = fetch(endless.url(), file, options_.time->now() + 2s);
  EXPECT_EQ(out.end, FetchEnd::cut) << out.why;
  EXPECT_EQ(out.cause, FetchCause::deadline) << out.why;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_GT(file.part.bytes, 0u);
  EXPECT_EQ(fs::file_size(file.part_path()), file.part.bytes) << "the part is kept for a later run";

  ScriptedHost terabyte([](ScriptedHost::Conn& c) {
    if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\nETag: \"t1\"\r\n\r\n")) return;
    dribble(c, 100000, 1000, 10ms);
  });
  VideoFile big;
  big.path = (dir_ / "terabyte.mp4").string();
  const auto refused = fetch(terabyte.url(), big);
  EXPECT_EQ(refused.end, FetchEnd::failed) << refused.why;
  EXPECT_EQ(refused.cause, FetchCause::too_long) << refused.why;
  EXPECT_FALSE(fs::exists(big.part_path())) << "refused before a byte is written";

  options_.max_bytes = 64 * 1024;
  ScriptedHost unbounded([](ScriptedHost::Conn& c) {
    if (!c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")) return;
    dribble(c, ~0ull, 16 * 1024, 1ms);
  });
  VideoFile capped;
  capped.path = (dir_ / "capped.mp4").string();
  const auto stopped = fetch(unbounded.url(), capped);
  EXPECT_EQ(stopped.end, FetchEnd::failed) << stopped.why;
  EXPECT_EQ(stopped.cause, FetchCause::too_long) << stopped.why;
  EXPECT_LE(capped.part.bytes, options_.max_bytes + options_.buffer_bytes);
}

// H02: a host sending a byte every 100 ms was cut as silent every
// request_timeout, and the cut threw the try's bytes away. Every byte now
// counts against the silence, in the head, a counted body and a chunked one.
TEST_F(HostileHost, H02_ASlowSteadyHostIsNotSilentAndACutKeepsItsCount) {
  options_.timeout = 1s;
  const std::string body(2000, 'v');
  ScriptedHost counted([&](ScriptedHost::Conn& c) {
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\nETag: \"s1\"\r\n\r\n";
    for (char ch : head) {  // the head too, a byte at a time: 1.5 s in all
      if (!c.send(std::string_view(&ch, 1))) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1500) / head.size());
    }
    dribble(c, body.size(), 50, 100ms);  // 4 s of body at 500 B/s
  });
  VideoFile file;
  file.path = (dir_ / "slow.mp4").string();
  auto out = fetch(counted.url(), file);
  ASSERT_EQ(out.end, FetchEnd::complete) << out.why;
  EXPECT_EQ(out.received, 2000u);

  ScriptedHost chunked([&](ScriptedHost::Conn& c) {
    if (!c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: \"s2\"\r\n\r\n")) return;
    for (int i = 0; i < 30 && !*c.stopping; ++i) {
      if (!c.send("32\r\n" + std::string(50, 'v') + "\r\n")) return;
      std::this_thread::sleep_for(100ms);
    }
    c.send("0\r\n\r\n");
  });
  VideoFile slow_chunks;
  slow_chunks.path = (dir_ / "chunked.mp4").string();
  out = fetch(chunked.url(), slow_chunks);
  ASSERT_EQ(out.end, FetchEnd::complete) << out.why;
  EXPECT_EQ(slow_chunks.part.bytes, 1500u);

  // Bytes, then silence: the watchdog's cut still counts what came.
  ScriptedHost stalls([](ScriptedHost::Conn& c) {
    if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nETag: \"s3\"\r\n\r\n" + std::string(4000, 'v'))) return;
    while (!*c.stopping) std::this_thread::sleep_for(20ms);
  });
  VideoFile stalled;
  stalled.path = (dir_ / "stalled.mp4").string();
  out = fetch(stalls.url(), stalled);
  EXPECT_EQ(out.end, FetchEnd::cut) << out.why;
  EXPECT_EQ(out.cause, FetchCause::silent) << out.why;
  EXPECT_EQ(out.received, 4000u);
  EXPECT_EQ(stalled.part.bytes, 4000u);
}

// H03: a host that ignores Range and closes at the same byte, every time:
// each try starts the part over and ends where the last one did, so it does
// not move the download on (the engine then backs off: the exporter's unit
// test and DownloadRun's daemon test). And a NAME that is a folder fails at
// once, without a request.
TEST_F(HostileHost, H03_ATryThatStartsOverToTheSameByteDoesNotMoveOn) {
  ScriptedHost cuts([](ScriptedHost::Conn& c) {
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\nETag: \"c1\"\r\n\r\n" + std::string(150000, 'v'));
  });
  VideoFile file;
  file.path = (dir_ / "cuts.mp4").string();
  std::uint64_t most = 0;
  for (int i = 0; i < 3; ++i) {
    const auto out = fetch(cuts.url(), file);
    EXPECT_EQ(out.end, FetchEnd::cut) << out.why;
    EXPECT_EQ(out.received, 150000u);
    EXPECT_EQ(moved_on(most, file.part.bytes), i == 0) << "try " << i;
    most = std::max(most, file.part.bytes);
  }
  EXPECT_NE(cuts.requests().back().find("Range: bytes=150000-"), std::string::npos);

  ScriptedHost never([](ScriptedHost::Conn& c) { c.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"); });
  VideoFile folder;
  folder.path = (dir_ / "taken.mp4").string();
  fs::create_directories(folder.path);
  const auto out = fetch(never.url(), folder);
  EXPECT_EQ(out.end, FetchEnd::failed) << out.why;
  EXPECT_EQ(out.cause, FetchCause::local) << out.why;
  EXPECT_TRUE(never.requests().empty()) << "nothing is downloaded for a name that cannot be written";
}

// H04: a gzip'd reply was stored as the video, its digest recorded as the
// video's. Identity is asked for; any other coding is refused unwritten.
TEST_F(HostileHost, H04_AContentCodedReplyIsRefusedAndIdentityIsAskedFor) {
  for (const std::string coding : {"gzip", "br", "x-anything"}) {
    ScriptedHost host([&](ScriptedHost::Conn& c) {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Encoding: " + coding +
             "\r\nETag: \"g\"\r\n\r\n0123456789");
    });
    VideoFile file;
    file.path = (dir_ / ("coded-" + coding + ".mp4")).string();
    const auto out = fetch(host.url(), file);
    EXPECT_EQ(out.end, FetchEnd::failed) << coding << ": " << out.why;
    EXPECT_FALSE(fs::exists(file.part_path())) << coding;
    ASSERT_EQ(host.requests().size(), 1u);
    EXPECT_NE(host.requests()[0].find("Accept-Encoding: identity"), std::string::npos) << host.requests()[0];
  }
}

// H05: a part damaged between a kill and the restart was completed and
// vouched for. The restart now checks the part against the journal's
// checkpoint, and a NAME already in place against its digest: what does
// not match is fetched again, and the digest recorded is the video's.
TEST_F(HostileHost, H05_ADamagedPartOrFileIsFetchedAgainNeverVouchedFor) {
  sim::Knobs k;
  k.video_cut = 1.0;  // one try leaves a part
  sim::Simulator s(k);
  const std::uint64_t size = 3 * 1024 * 1024;
  const auto url = s.finished_video("d1", size);
  const VideoFile first = cut_once(url, "d1.mp4");
  ASSERT_GT(first.part.bytes, 8192u);
  ASSERT_EQ(recorded_.back().checkpoint.bytes, first.part.bytes);
  {  // 4 KiB of the part zeroed, as a crash or a disk error may leave it
    std::fstream part(first.part_path(), std::ios::in | std::ios::out | std::ios::binary);
    part.seekp(4096);
    const std::string zeros(4096, '\0');
    part.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  k.video_cut = 0;
  s.set_knobs(k);
  VideoFile again = restarted(first.path);
  const auto out = fetch(url, again);
  ASSERT_EQ(out.end, FetchEnd::complete) << out.why;
  EXPECT_NE(out.discarded.find("does not match its checkpoint"), std::string::npos) << out.discarded;
  EXPECT_EQ(out.received, size) << "the whole video again, not the rest of a damaged part";
  auto done = finish(again);
  ASSERT_TRUE(done) << done.error();
  EXPECT_EQ(done->sha256, sim::video_sha256("d1", size));

  // Renamed into place, then damaged before the job's end was recorded.
  {
    std::fstream video(again.path, std::ios::in | std::ios::out | std::ios::binary);
    video.seekp(100);
    video.write("XXXX", 4);
  }
  VideoFile third = restarted(again.path);
  const auto refetched = fetch(url, third);
  ASSERT_EQ(refetched.end, FetchEnd::complete) << refetched.why;
  EXPECT_NE(refetched.discarded.find("does not hash"), std::string::npos) << refetched.discarded;
  done = finish(third);
  ASSERT_TRUE(done) << done.error();
  EXPECT_EQ(done->sha256, sim::video_sha256("d1", size));

  // Undamaged, it is kept: no byte fetched again.
  VideoFile fourth = restarted(again.path);
  const auto kept = fetch(url, fourth);
  ASSERT_EQ(kept.end, FetchEnd::complete) << kept.why;
  EXPECT_EQ(kept.received, 0u);
  EXPECT_TRUE(kept.discarded.empty()) << kept.discarded;
}

// H06: a symbolic link below download.dir was followed, and download.dir
// swapped for a link while running took the next video. Each folder is now
// opened without following a link, below a descriptor held from the start.
TEST_F(HostileHost, H06_NoLinkBelowTheDownloadFolderIsFollowed) {
  sim::Simulator s({});
  const auto outside = dir_ / "outside";
  fs::create_directories(outside);
  const auto root = dir_ / "videos";
  fs::create_directories(root);
  options_.root = DownloadRoot::open(root.string()).value();

  fs::create_directory_symlink(outside, root / "q");
  VideoFile linked;
  linked.path = (root / "q" / "v.mp4").string();
  auto out = fetch(s.finished_video("l1", 1000), linked);
  EXPECT_EQ(out.end, FetchEnd::failed) << out.why;
  EXPECT_EQ(out.cause, FetchCause::local) << out.why;
  EXPECT_TRUE(fs::is_empty(outside));

  // A link as the last name: NAME.part is not opened through it either.
  fs::create_directories(root / "r");
  fs::create_symlink(outside / "victim.mp4", root / "r" / "v.mp4.part");
  VideoFile leaf;
  leaf.path = (root / "r" / "v.mp4").string();
  out = fetch(s.finished_video("l2", 1000), leaf);
  EXPECT_NE(out.end, FetchEnd::complete) << out.why;
  EXPECT_FALSE(fs::exists(outside / "victim.mp4"));

  // download.dir swapped for a link while the daemon runs: the pinned folder is still the one written.
  fs::rename(root, dir_ / "videos-old");
  fs::create_directory_symlink(outside, root);
  VideoFile moved;
  moved.path = (root / "m" / "v.mp4").string();
  out = fetch(s.finished_video("l3", 1000), moved);
  ASSERT_EQ(out.end, FetchEnd::complete) << out.why;
  ASSERT_TRUE(finish(moved));
  EXPECT_TRUE(fs::is_empty(outside)) << "nothing written through the swapped-in link";
  EXPECT_EQ(fs::file_size(dir_ / "videos-old" / "m" / "v.mp4"), 1000u);
}

// H07: an https video host redirected exportd to plain http on loopback,
// and the local service's page was stored as the video.
TEST_F(HostileHost, H07_ARedirectNeverGoesToPlainHttpOrToLoopbackFromElsewhere) {
  testing::make_test_certs(dir_.string(), "127.0.0.1");
  options_.tls = make_client_tls_context((dir_ / "ca.pem").string());
  std::atomic<int> internal_hits{0};
  ScriptedHost internal([&](ScriptedHost::Conn& c) {
    ++internal_hits;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsecrets!");
  });
  ScriptedHost host(
      [&](ScriptedHost::Conn& c) {
        c.send("HTTP/1.1 302 Found\r\nLocation: " + internal.url("/internal") + "\r\nContent-Length: 0\r\n\r\n");
      },
      dir_.string());
  VideoFile file;
  file.path = (dir_ / "redirected.mp4").string();
  const auto out = fetch(host.url(), file);
  EXPECT_EQ(out.end, FetchEnd::failed) << out.why;
  EXPECT_EQ(out.cause, FetchCause::link) << out.why;
  EXPECT_EQ(internal_hits.load(), 0);
  EXPECT_FALSE(fs::exists(file.part_path()));

  // The rule itself, for names that cannot be served here.
  const auto link = [](const char* u) { return parse_video_url(u).value(); };
  EXPECT_NE(redirect_refusal(link("https://cdn.example.com/v"), link("http://127.0.0.1:8080/v")), "");
  EXPECT_NE(redirect_refusal(link("https://cdn.example.com/v"), link("https://localhost/v")), "");
  EXPECT_NE(redirect_refusal(link("https://cdn.example.com/v"), link("https://[::1]/v")), "");
  EXPECT_EQ(redirect_refusal(link("https://cdn.example.com/v"), link("https://edge.example.net/v")), "");
  EXPECT_EQ(redirect_refusal(link("http://127.0.0.1:1/v"), link("http://127.0.0.1:2/v")), "");
}

// H08: a port over 65535 wrapped: :P+65536 reached port P.
TEST_F(HostileHost, H08_APortOutOfRangeIsAMalformedLink) {
  ScriptedHost host([](ScriptedHost::Conn& c) { c.send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"); });
  VideoFile file;
  file.path = (dir_ / "wrapped.mp4").string();
  const auto out = fetch("http://127.0.0.1:" + std::to_string(host.port() + 65536u) + "/v.mp4", file);
  EXPECT_EQ(out.end, FetchEnd::failed) << out.why;
  EXPECT_EQ(out.cause, FetchCause::link) << out.why;
  EXPECT_TRUE(host.requests().empty());
  for (const auto* bad : {"https://h.example:0/v", "https://h.example:65536/v", "https://h.example:99999999999/v",
                          "https://h.example:-1/v"})
    EXPECT_FALSE(parse_video_url(bad)) << bad << " read as port " << parse_video_url(bad)->endpoint.port;
  EXPECT_EQ(parse_video_url("https://h.example:65535/v")->endpoint.port, 65535);
}

// The daemon against such hosts (H01, H03, H12): a run --once whose video
// never ends stops at polling.job_timeout (timed_out, the part kept); one
// whose host restarts at the same byte every time backs off and ends
// download_failed within retry.max_attempts; a job whose video would be
// another's part file is refused by exportd check with its position.
std::string daemon_config(const testing::Workspace& ws, const std::string& polling) {
  return "limits:\n  requests_per_second: 0\npolling:\n  first_poll_after: 300ms\n  min_interval: 250ms\n"
         "  max_interval: 1s\n" +
         polling +
         "retry:\n  max_attempts: 3\n  initial_backoff: 200ms\n"
         "  max_backoff: 400ms\ndownload:\n  dir: " +
         ws.path("videos") + "\n";
}

TEST(HostileHostDaemon, H01_H03_AVideoThatNeverEndsOrNeverMovesEndsItsJob) {
  ScriptedHost endless([](ScriptedHost::Conn& c) {
    if (!c.send("HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nConnection: close\r\n\r\n")) return;
    dribble(c, ~0ull, 1000, 20ms);
  });
  sim::Knobs k;
  k.export_min = 300ms;
  k.export_max = 500ms;
  k.download_url = endless.url();
  sim::Simulator sim(k);
  testing::Workspace ws("hostile-host-deadline");
  ws.write_config(sim.port(), false, "demo-key", daemon_config(ws, "  job_timeout: 5s\n"));
  ws.write_export_jobs("jobs.yaml", 1);
  const auto started = std::chrono::steady_clock::now();
  auto r = testing::run_once(ws, 90s, {"--queue", ws.path("jobs.yaml")});
  EXPECT_FALSE(r.timed_out) << "run --once never ended";
  auto results = ws.results();
  EXPECT_EQ(r.exit_code, 1) << r.err << (results.empty() ? "" : boost::json::serialize(results[0]));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].at("status").as_string(), "timed_out") << boost::json::serialize(results[0]);

  std::atomic<int> tries{0};
  ScriptedHost cuts([&](ScriptedHost::Conn& c) {
    ++tries;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\nETag: \"c1\"\r\n\r\n" + std::string(150000, 'v'));
  });
  k.download_url = cuts.url();
  sim.set_knobs(k);
  testing::Workspace ws2("hostile-host-cuts");
  ws2.write_config(sim.port(), false, "demo-key", daemon_config(ws2, "  job_timeout: 2h\n"));
  ws2.write_export_jobs("jobs.yaml", 1);
  r = testing::run_once(ws2, 90s, {"--queue", ws2.path("jobs.yaml")});
  EXPECT_FALSE(r.timed_out);
  // 75: the only job failed for faults alone (a host that may answer better later), as for an unreachable API.
  EXPECT_EQ(r.exit_code, 75) << r.err;
  results = ws2.results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].at("status").as_string(), "failed");
  EXPECT_EQ(results[0].at("error").at("code").as_string(), "download_failed");
  EXPECT_LE(tries.load(), 6) << "tries that never move the part are retried a bounded number of times";
}

TEST(HostileHostDaemon, H12_AVideoNamedLikeAnotherJobsPartFileIsRefusedByCheck) {
  testing::Workspace ws("hostile-host-part-name");
  ws.write_config(1, false, "demo-key", "download:\n  dir: " + ws.path("videos") + "\n  name: \"{file}/{id}\"\n");
  ws.write("q.yaml", "jobs:\n  - project_id: a\n    id: v.mp4\n  - project_id: b\n    id: v.mp4.part\n");
  const auto r =
      testing::run_process({testing::exportd_binary(), "check", "-c", ws.path("config.yaml"), ws.path("q.yaml")}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("q.yaml:5:9:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".part"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace exportd
