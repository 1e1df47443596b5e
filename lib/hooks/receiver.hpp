#pragma once

// The webhook receiver (SPEC §9): a small Beast server on webhook.listen.
// A call to .../hooks/TOKEN (POST with any body, or GET with a query) is a
// hint that the job may have finished: it is answered at once (200), and the
// engine asks the API for the job's progress. The call's own fields are
// never trusted. Unknown tokens get 404, bodies over 64 KiB 413, and a
// client that has not sent its request within 10 s is dropped; open
// connections are bounded. No token is ever written to a log.

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "error/error.hpp"
#include "ops/log.hpp"

namespace exportd {

// What the engine made of a hook's token.
enum class HookAnswer : std::uint8_t {
  accepted,  // a job of ours: its progress is read now (or soon: one read for many hooks)
  ended,     // a job that has ended already: nothing to do
  unknown,   // no job of ours: 404, no API call
};

// The token of a hook request's target: the path segment after the last
// "/hooks/", query string aside. Empty when the path is not a hook's.
std::string_view hook_token_in(std::string_view target);

struct ReceiverLimits {
  std::size_t max_body = 64 * 1024;
  std::chrono::milliseconds request_deadline{10'000};  // from connect (or the last reply) to a whole request
  std::size_t max_connections = 256;
};

class HookReceiver {
 public:
  using OnHook = std::function<HookAnswer(std::string_view token)>;

  // Binds host:port (port 0: any free one). A failure names the address.
  static Result<std::unique_ptr<HookReceiver>> bind(boost::asio::any_io_executor ex, const std::string& host,
                                                    std::uint16_t port, OnHook on_hook, Logger& log,
                                                    ReceiverLimits limits = {});

  // Accepts until stop(); every connection is a coroutine with a deadline.
  boost::asio::awaitable<void> run();
  // Stops accepting and closes every open connection.
  void stop();

  std::uint16_t port() const { return port_; }

  HookReceiver(boost::asio::any_io_executor ex, boost::asio::ip::tcp::acceptor acceptor, OnHook on_hook, Logger& log,
               ReceiverLimits limits);

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor ex_;
  boost::asio::ip::tcp::acceptor acceptor_;
  OnHook on_hook_;
  Logger& log_;
  ReceiverLimits limits_;
  std::list<boost::beast::tcp_stream*> open_;  // to close on stop
  std::uint16_t port_ = 0;
  bool stopping_ = false;
};

}  // namespace exportd
