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

// A listener is never full: a new connection always gets a place, taken
// from the oldest idle one (connected, or kept alive, and no byte of a
// request yet), else from the oldest of all. A genuine client sends its
// request at once and is answered, however many others hold places.
struct ListenerLimits {
  std::size_t max_body = 64 * 1024;                    // a longer body is answered 413
  std::chrono::milliseconds request_deadline{10'000};  // from connect (or the last reply) to a whole request
  std::size_t max_connections = 256;                   // open at once; past it the oldest idle one is shed
  std::size_t max_per_peer = 64;                       // open at once from one address; past it, that peer's oldest
  std::chrono::milliseconds max_life{60'000};          // a kept-alive connection is closed after its reply past this
  std::chrono::milliseconds accept_pause{100};         // out of file descriptors: accepting waits this long
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
  // An open connection, oldest first in open_.
  struct Open {
    boost::beast::tcp_stream* stream;
    boost::asio::ip::address peer;
    std::chrono::steady_clock::time_point since;
    bool idle = true;   // no byte of a request has come since connect or the last reply
    bool shed = false;  // closed to make room; its coroutine has yet to end
  };
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, boost::asio::ip::address peer);
  // Makes room for a connection from `peer`: sheds the oldest idle
  // connection (of `peer` when it is at its own bound), else the oldest.
  void make_room(const boost::asio::ip::address& peer);
  void shed(std::list<Open>::iterator it);
  // The oldest open connection not shed yet (idle only; of one peer only): end() for none.
  std::list<Open>::iterator oldest(bool idle_only, const boost::asio::ip::address* of_peer);
  // Out of descriptors: say so once, free one, wait a little.
  boost::asio::awaitable<void> pause_accepting(const boost::system::error_code& ec);

  boost::asio::any_io_executor ex_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::string what_;
  Handler handler_;
  Logger& log_;
  ListenerLimits limits_;
  std::list<Open> open_;  // oldest first; to shed, and to close on stop
  std::size_t live_ = 0;  // open_ less the shed ones
  std::uint16_t port_ = 0;
  bool stopping_ = false;
  // Accepting met EMFILE/ENFILE: one warning, and one line when it has gone
  // on for `quiet_to_resume` without another.
  static constexpr std::chrono::seconds quiet_to_resume{10};
  bool paused_ = false;
  std::uint64_t pauses_ = 0;  // in this episode
  std::chrono::steady_clock::time_point last_pause_{};
};

}  // namespace exportd
