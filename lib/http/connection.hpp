#pragma once

// One HTTP/1.1 connection, plain or TLS, under both of exportd's clients:
// the API pool (HttpClient) and the video fetch. It resolves, connects and
// handshakes, writes a request, reads a reply's head and its body in pieces.
// Every step runs under one deadline policy kept on the injected EngineTime
// (a total budget, or a silence limit plus a hard deadline), so a silent
// host is cut in fake time in a test as in real time in the daemon; every
// failure is one typed NetError: the stage, what went wrong, the bytes so far.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/endpoint.hpp"
#include "schedule/engine_time.hpp"
#include "time/duration.hpp"

namespace exportd {

// Where an exchange stopped.
enum class NetStage : std::uint8_t {
  resolve,    // looking up the host name
  connect,    // opening the TCP connection
  handshake,  // TLS
  write,      // sending the request
  read_head,  // waiting for, or reading, the reply's status line and headers
  read_body,  // reading the reply's body
};

// What stopped it.
enum class NetFault : std::uint8_t {
  silent,           // nothing moved for the policy's silence limit
  deadline,         // the policy's deadline came (a total budget spent, or a job's deadline)
  unreachable,      // the name does not resolve, or the host refused the connection
  closed,           // the peer closed or reset the connection (EOF, RST, a TLS close cut short)
  tls_verify,       // the peer's certificate did not verify (reason in the message)
  refused_address,  // a public name resolved to a loopback address: not connected
  cancelled,        // the caller stopped waiting
  other,            // anything else (the message says)
};

struct NetError {
  NetStage stage = NetStage::connect;
  NetFault fault = NetFault::other;
  std::uint64_t written = 0;  // request bytes sent on this exchange
  std::uint64_t read = 0;     // reply bytes received on this exchange
  std::string message;        // in words, without the host's secrets (never a header value)
  bool timed_out() const { return fault == NetFault::silent || fault == NetFault::deadline; }
};

std::string_view stage_name(NetStage stage);

// How long an exchange may take, read on EngineTime.
struct Deadlines {
  TimePoint by = TimePoint::max();  // nothing after this
  std::optional<Millis> silence;    // and never this long without a byte moving either way
  // The whole exchange within `budget` of `now` (the API: api.request_timeout).
  static Deadlines total(TimePoint now, Millis budget) { return {now + budget, std::nullopt}; }
  // No silence longer than `limit`, and nothing past `by` (a video: download
  // timeout, and the job's deadline).
  static Deadlines quiet_for(Millis limit, TimePoint by) { return {by, limit}; }
};

class Connection {
 public:
  // `tls` (verifying the peer, see make_client_tls_context) for https; null for plain http.
  Connection(boost::asio::any_io_executor ex, EngineTime& time, std::shared_ptr<boost::asio::ssl::context> tls);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `body` (the steps below) under `deadlines`: when a limit is reached
  // the connection is closed, which ends the step under way with its fault;
  // `body` itself runs to its end (a file write, a journal record is never
  // cut in the middle). A caller's cancellation reaches the step under way
  // (NetFault::cancelled) unless `body` disabled it.
  boost::asio::awaitable<void> run(Deadlines deadlines, std::function<boost::asio::awaitable<void>()> body);

  // Resolves, connects (no Nagle) and, for https, handshakes with name
  // checking. `refuse_loopback`: a name that is not itself loopback must not
  // resolve to a loopback address (a video host pointing at this machine).
  boost::asio::awaitable<std::optional<NetError>> open(const ApiEndpoint& endpoint, bool refuse_loopback);
  boost::asio::awaitable<std::optional<NetError>> write(
      const boost::beast::http::request<boost::beast::http::string_body>& request);
  // Until `parser` holds a whole head; each piece counts as the connection moving.
  boost::asio::awaitable<std::optional<NetError>> read_head(boost::beast::http::basic_parser<false>& parser);
  // The rest of the body through `parser` (its body limit applies).
  boost::asio::awaitable<std::optional<NetError>> read_body(boost::beast::http::basic_parser<false>& parser);
  // One piece of a body through `parser` (a buffer_body parser given where
  // to put it): what came, and the error if the read failed.
  boost::asio::awaitable<std::pair<std::optional<NetError>, std::size_t>> read_body_some(
      boost::beast::http::basic_parser<false>& parser);
  // Raw body bytes into `into`: what the head's read brought first, then
  // reads until `least` bytes (or `room`) have come.
  boost::asio::awaitable<std::pair<std::optional<NetError>, std::size_t>> read_raw(char* into, std::size_t room,
                                                                                   std::size_t least);

  bool is_open() const { return open_; }
  void close();
  // Counters of this exchange, from the start of the last run().
  std::uint64_t written() const { return written_; }
  std::uint64_t read() const { return read_; }

 private:
  struct Streams;
  struct Watch;
  template <class Op>
  boost::asio::awaitable<std::pair<std::optional<NetError>, std::size_t>> step(NetStage stage, Op op);
  NetError fault(NetStage stage, const boost::system::error_code& ec, std::string what) const;
  static boost::asio::awaitable<void> watchdog(std::shared_ptr<Watch> w, EngineTime& time, std::uint64_t exchange);

  boost::asio::any_io_executor ex_;
  EngineTime& time_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::unique_ptr<Streams> streams_;
  std::shared_ptr<Watch> watch_;  // shared with the watchdog, which may wake after the connection is gone
  boost::beast::flat_buffer buffer_;  // bytes read past what a step used (a body's first bytes after the head)
  std::string host_;                  // for messages
  bool open_ = false;
  std::uint64_t written_ = 0;
  std::uint64_t read_ = 0;
};

}  // namespace exportd
