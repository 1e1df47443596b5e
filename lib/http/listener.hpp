#pragma once

// A small HTTP/1.1 server for the daemon's own endpoints (the webhook
// receiver, /metrics): one coroutine per connection, a deadline on every
// request, a bound on open connections and on what a request may carry.
// What to answer is the handler's; it runs on the listener's executor.

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include "error/error.hpp"
#include "ops/log.hpp"

namespace exportd {

struct ListenerLimits {
  std::size_t max_body = 64 * 1024;                    // a longer body is answered 413
  std::chrono::milliseconds request_deadline{10'000};  // from connect (or the last reply) to a whole request
  std::size_t max_connections = 256;                   // more are closed as they come
};

// What the handler is given: the request line, and whether its body was cut off at the limit.
struct Incoming {
  boost::beast::http::verb method;
  std::string_view target;
  bool body_too_large = false;
};

struct Answer {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::string content_type = "application/json";
  std::string body;
};

class HttpListener {
 public:
  using Handler = std::function<Answer(const Incoming&)>;

  // Binds host:port (port 0: any free one). `what` names the setting in errors and logs.
  static Result<std::unique_ptr<HttpListener>> bind(boost::asio::any_io_executor ex, const std::string& what,
                                                    const std::string& host, std::uint16_t port, Handler handler,
                                                    Logger& log, ListenerLimits limits = {});

  // Accepts until stop(); every connection is a coroutine with a deadline.
  boost::asio::awaitable<void> run();
  // Stops accepting and closes every open connection.
  void stop();

  std::uint16_t port() const { return port_; }

  HttpListener(boost::asio::any_io_executor ex, boost::asio::ip::tcp::acceptor acceptor, std::string what,
               Handler handler, Logger& log, ListenerLimits limits);

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor ex_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::string what_;
  Handler handler_;
  Logger& log_;
  ListenerLimits limits_;
  std::list<boost::beast::tcp_stream*> open_;  // to close on stop
  std::uint16_t port_ = 0;
  bool stopping_ = false;
};

}  // namespace exportd
