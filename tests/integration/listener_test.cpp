// Issue 25, H09 and H10: the daemon's own listeners (the webhook receiver,
// /metrics) against clients that crowd them on loopback: idle sockets,
// kept-alive clients, and more clients than the process has descriptors.
// A genuine request is answered whatever the others hold; accepting never
// spins. Each test bounds its own time.

#include <cstdio>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "http/listener.hpp"
#include "loopback_http.hpp"

namespace exportd {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Listeners on a loop thread of their own, as the daemon runs them; a log
// written to a file the test reads.
class Listeners {
 public:
  explicit Listeners(std::FILE* log_to) : log_({LogLevel::info, LogFormat::text}, log_to) {}
  ~Listeners() {
    asio::post(io_, [this] {
      for (auto& l : listeners_) l->stop();
    });
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t add(const std::string& what, ListenerLimits limits) {
    auto bound = HttpListener::bind(
        io_.get_executor(), what, "127.0.0.1", 0,
        [](const Incoming&) {
          return Answer{http::status::ok, "text/plain", "ok"};
        },
        log_, limits);
    EXPECT_TRUE(bound) << bound.error();
    listeners_.push_back(std::move(*bound));
    asio::co_spawn(io_, listeners_.back()->run(), asio::detached);
    return listeners_.back()->port();
  }
  void start() {
    thread_ = std::thread([this] { io_.run(); });
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  Logger log_;
  std::vector<std::unique_ptr<HttpListener>> listeners_;
  std::thread thread_;
};

// The soft descriptor limit set for a test, and put back after it.
class NofileLimit {
 public:
  explicit NofileLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit want = saved_;
    want.rlim_cur = std::min(soft, saved_.rlim_max);
    ok_ = ::setrlimit(RLIMIT_NOFILE, &want) == 0 && want.rlim_cur == soft;
  }
  ~NofileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

// Clients of a listener, held open by the test.
struct Crowd {
  asio::io_context io;
  std::vector<tcp::socket> sockets;
  // `n` connections that never send a byte.
  void idle(std::uint16_t port, int n) {
    for (int i = 0; i < n; ++i) {
      tcp::socket s(io);
      boost::system::error_code ec;
      s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
      if (!ec) sockets.push_back(std::move(s));
    }
  }
  // `n` clients that each send one kept-alive request, read the reply, and stay.
  int kept_alive(std::uint16_t port, int n) {
    int answered = 0;
    for (int i = 0; i < n; ++i) {
      tcp::socket s(io);
      boost::system::error_code ec;
      s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
      if (ec) continue;
      const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
      asio::write(s, asio::buffer(req), ec);
      asio::streambuf reply;
      asio::read_until(s, reply, "\r\n\r\n", ec);
      answered += !ec;
      sockets.push_back(std::move(s));
    }
    return answered;
  }
};

// H09: 256 kept-alive clients (or 32, on /metrics) held every place, and a
// genuine hook got no answer for as long as they liked; idle sockets did
// the same until their deadline. Now a new connection always gets a place,
// the oldest idle one's, and a genuine request is answered at once.
TEST(Listener, H09_AGenuineRequestIsAnsweredHoweverTheOtherPlacesAreHeld) {
  NofileLimit limit(8192);
  if (!limit.ok()) GTEST_SKIP() << "needs 8192 descriptors (RLIMIT_NOFILE) for 2,500 client sockets";
  std::FILE* log = std::tmpfile();
  Listeners ls(log);
  const auto webhook = ls.add("webhook.listen", ListenerLimits{});
  const auto metrics = ls.add("metrics.listen", ListenerLimits{4096, 10s, 32});
  ls.start();
  for (const auto port : {webhook, metrics}) {
    SCOPED_TRACE(port == webhook ? "the webhook receiver" : "/metrics");
    Crowd crowd;
    crowd.idle(port, 1000);
    EXPECT_GT(crowd.kept_alive(port, 256), 200) << "kept-alive clients are served as they come";
    crowd.idle(port, 64);  // and the newest places idle again
    const auto asked = std::chrono::steady_clock::now();
    const auto r = testing::loopback_request(port, http::verb::post, "/hooks/0123456789abcdef0123456789abcdef", "{}");
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
    EXPECT_TRUE(r.answered) << "no answer with 1,000 idle and 256 kept-alive clients holding their sockets";
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(took, 10.0) << "answered only after a deadline freed a place";
    std::printf("listener %s: genuine request %s in %.3f s beside %zu open client sockets\n",
                port == webhook ? "webhook" : "metrics", r.answered ? "answered" : "NOT answered", took,
                crowd.sockets.size());
  }
  std::fclose(log);
}

// H10: out of file descriptors, the listener spun on accept: 3 s of CPU and
// 49.5 MB of accept_failed lines in 3 s. Now it pauses, says so once, and
// takes the waiting client once a descriptor is free.
TEST(Listener, H10_OutOfDescriptorsAcceptingPausesAndSaysSoOnce) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check reads memory through a pipe of its own: with no
  // descriptor left it reports every object as invalid. The plain and TSan
  // builds run this test.
  GTEST_SKIP() << "the ASan+UBSan build needs descriptors that this test takes away";
#endif
  std::FILE* log = std::tmpfile();
  Listeners ls(log);
  const auto port = ls.add("webhook.listen", ListenerLimits{});
  Crowd crowd;
  {
    // The process's descriptors: what is open now plus a few; the clients
    // then take the rest, and the listener's accepts fail with EMFILE.
    int open_now = 0;
    for (int fd = 0; fd < 4096; ++fd) open_now += ::fcntl(fd, F_GETFD) != -1;
    NofileLimit limit(static_cast<rlim_t>(open_now + 40));
    ASSERT_TRUE(limit.ok());
    ls.start();
    crowd.idle(port, 60);  // some connect but cannot be accepted: no descriptor left for them
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    std::this_thread::sleep_for(2s);
    ::getrusage(RUSAGE_SELF, &after);
    const auto cpu = [](const rusage& u) {
      return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    };
    std::printf("listener out of descriptors: %.3f s of CPU in 2 s\n", cpu(after) - cpu(before));
    EXPECT_LT(cpu(after) - cpu(before), 1.0) << "accepting spins";
    crowd.sockets.clear();  // the clients go: descriptors free again
  }
  const auto r = testing::loopback_request(port, http::verb::get, "/metrics");
  EXPECT_TRUE(r.answered) << "accepting resumed";
  std::fflush(log);
  std::rewind(log);
  std::string text;
  for (int c; (c = std::fgetc(log)) != EOF;) text += static_cast<char>(c);
  std::fclose(log);
  std::size_t paused = 0;
  for (auto at = text.find("accept_paused"); at != std::string::npos; at = text.find("accept_paused", at + 1)) ++paused;
  EXPECT_GE(paused, 1u) << text.substr(0, 2000);
  EXPECT_LE(paused, 3u) << "once per episode, not once per accept: " << text.substr(0, 2000);
  EXPECT_EQ(text.find("accept_failed"), std::string::npos) << text.substr(0, 2000);
  EXPECT_LT(text.size(), 64u * 1024) << "the log stays small";
}

}  // namespace
}  // namespace exportd
