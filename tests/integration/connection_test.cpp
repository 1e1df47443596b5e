// The one connection layer (lib/http/connection.*) as the API pool sees it:
// its deadline is kept on the injected clock, like the video fetch's
// (download_test.cpp, TheSilenceTimeoutKeepsTheInjectedClock), and its
// failures come typed.

#include <chrono>
#include <optional>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "api/wire.hpp"
#include "http/client.hpp"
#include "manual_time.hpp"
#include "silent_host.hpp"

namespace exportd {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

ApiEndpoint loopback(std::uint16_t port) {
  ApiEndpoint ep;
  ep.tls = false;
  ep.host = "127.0.0.1";
  ep.port = port;
  return ep;
}

struct Exchange {
  std::optional<ApiResult<HttpReply>> out;
  // One progress call through `client`, spawned on `io`.
  void start(asio::io_context& io, HttpClient& client, const ApiEndpoint& ep) {
    asio::co_spawn(
        io,
        [&client, ep, this]() -> asio::awaitable<void> {
          out = co_await client.exchange(progress_request(ep, "p1"), "tok");
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
};

// A silent API host is cut when the injected clock passes
// api.request_timeout, not a moment before, and not by real time: the test
// runs well short of the 30 s a real clock would need.
TEST(ApiConnection, ASilentApiHostIsCutAtTheInjectedClocksRequestTimeout) {
  testing::ManualTime time;
  testing::SilentHost host("");
  asio::io_context io;
  const auto ep = loopback(host.port());
  HttpClient client(io.get_executor(), {ep, 30s, 1, nullptr}, time);
  Exchange call;
  call.start(io, client, ep);
  const auto bound = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < bound && !host.heard()) io.run_for(10ms);
  ASSERT_TRUE(host.heard()) << "the request never reached the host";
  io.run_for(100ms);
  EXPECT_FALSE(call.out) << "no clock time has passed";
  time.advance(29s);
  io.run_for(100ms);
  EXPECT_FALSE(call.out) << "29 s of silence on a 30 s api.request_timeout";
  time.advance(2s);
  const auto cut_by = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < cut_by && !call.out) io.run_for(10ms);
  ASSERT_TRUE(call.out) << "not cut after 31 s of the injected clock";
  ASSERT_FALSE(call.out->has_value());
  const auto& error = call.out->error();
  EXPECT_EQ(error.kind, Errc::transport);
  EXPECT_TRUE(error.maybe_processed) << "the request was sent: the API may have acted on it";
  EXPECT_NE(error.message.find("api.request_timeout"), std::string::npos) << error.message;
}

// A refused connection is a transport failure of a request that never left:
// nothing may have been processed, so even a create may go again.
TEST(ApiConnection, ARefusedConnectionSaysNothingWasSent) {
  testing::ManualTime time;
  asio::io_context io;
  std::uint16_t closed_port = 0;
  {
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = a.local_endpoint().port();
  }
  const auto ep = loopback(closed_port);
  HttpClient client(io.get_executor(), {ep, 30s, 1, nullptr}, time);
  Exchange call;
  call.start(io, client, ep);
  const auto bound = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < bound && !call.out) io.run_for(10ms);
  ASSERT_TRUE(call.out);
  ASSERT_FALSE(call.out->has_value());
  EXPECT_EQ(call.out->error().kind, Errc::transport);
  EXPECT_FALSE(call.out->error().maybe_processed) << call.out->error().message;
}

}  // namespace
}  // namespace exportd
