#include "http/connection.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "http/tls.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;

std::string_view stage_name(NetStage stage) {
  switch (stage) {
    case NetStage::resolve:
      return "resolving";
    case NetStage::connect:
      return "connecting";
    case NetStage::handshake:
      return "the TLS handshake";
    case NetStage::write:
      return "sending the request";
    case NetStage::read_head:
      return "waiting for the reply";
    case NetStage::read_body:
      return "reading the reply's body";
  }
  return "?";
}

struct Connection::Streams {
  explicit Streams(asio::any_io_executor ex) : socket(ex), resolver(ex) {}
  tcp::socket socket;
  tcp::resolver resolver;
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
};

// What the watchdog keeps: the limits, when a byte last moved, and why it
// closed the connection (if it did). One alarm for the whole exchange, not
// one per read: a watchdog coroutine sleeps on it while the body runs.
struct Connection::Watch {
  explicit Watch(std::unique_ptr<Alarm> a) : alarm(std::move(a)) {}
  std::unique_ptr<Alarm> alarm;
  Deadlines limits;
  TimePoint last{};
  std::optional<NetFault> ended;  // silent or deadline
  Connection* owner = nullptr;    // closed by the watchdog; set only while a body runs
  // Which exchange is under way: a watchdog left from the last one (its
  // wake still queued when the next run() began) must leave, not watch
  // beside the new one on the same alarm, each re-arming it under the other.
  std::uint64_t exchange = 0;
};

namespace {

NetFault fault_of(const error_code& ec) {
  if (ec == asio::error::connection_refused || ec == asio::error::host_not_found ||
      ec == asio::error::host_not_found_try_again || ec == asio::error::host_unreachable ||
      ec == asio::error::network_unreachable || ec == asio::error::no_data)
    return NetFault::unreachable;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
      ec == asio::ssl::error::stream_truncated)
    return NetFault::closed;
  if (ec == asio::error::operation_aborted) return NetFault::cancelled;
  return NetFault::other;
}

// A completion condition: reads until `least` bytes have come (or the room
// is full), and takes every read that brings any as the connection moving,
// so a slow and steady host is never taken for a silent one.
struct ReadAtLeast {
  std::size_t least;
  const EngineTime* time;
  TimePoint* last;
  std::size_t seen = 0;
  std::size_t operator()(const error_code& ec, std::size_t transferred) {
    if (transferred > seen) {
      seen = transferred;
      *last = time->now();
    }
    if (ec || transferred >= least) return 0;
    return 64 * 1024;
  }
};

}  // namespace

Connection::Connection(asio::any_io_executor ex, EngineTime& time, std::shared_ptr<asio::ssl::context> tls)
    : ex_(ex),
      time_(time),
      tls_context_(std::move(tls)),
      streams_(std::make_unique<Streams>(ex)),
      watch_(std::make_shared<Watch>(time.alarm(ex))) {}

Connection::~Connection() = default;

void Connection::close() {
  error_code ignored;
  streams_->resolver.cancel();
  streams_->socket.close(ignored);
  open_ = false;
}

NetError Connection::fault(NetStage stage, const error_code& ec, std::string what) const {
  NetError e;
  e.stage = stage;
  e.written = written_;
  e.read = read_;
  e.fault = watch_->ended.value_or(fault_of(ec));
  switch (e.fault) {
    case NetFault::silent:
      e.message = what + ": nothing from " + host_ + " for " + format_duration(*watch_->limits.silence);
      break;
    case NetFault::deadline:
      e.message = what + ": the deadline came";
      break;
    case NetFault::cancelled:
      e.message = what + ": stopped";
      break;
    default:
      e.message = what + ": " + ec.message();
  }
  return e;
}

// Closes the connection once nothing has moved for the silence limit or the
// deadline has come, which ends whatever the body waits on; leaves when the
// body has ended (run() wakes it then). Spawned apart from the body, it
// holds the Watch, not the connection.
awaitable<void> Connection::watchdog(std::shared_ptr<Watch> w, EngineTime& time, std::uint64_t exchange) {
  for (;;) {
    if (w->owner == nullptr || w->exchange != exchange) co_return;
    const auto silent_at = w->limits.silence ? w->last + *w->limits.silence : TimePoint::max();
    const auto due = std::min(silent_at, w->limits.by);
    if (time.now() >= due) {
      w->ended = w->limits.by <= silent_at ? NetFault::deadline : NetFault::silent;
      w->owner->close();
      co_return;
    }
    w->alarm->expires_at(due);
    co_await w->alarm->wait();
  }
}

awaitable<void> Connection::run(Deadlines deadlines, std::function<awaitable<void>()> body) {
  auto& w = *watch_;
  w.limits = deadlines;
  w.last = time_.now();
  w.ended.reset();
  w.owner = this;
  ++w.exchange;
  written_ = 0;
  read_ = 0;
  asio::co_spawn(ex_, watchdog(watch_, time_, w.exchange), asio::detached);
  struct Done {
    Watch& w;
    ~Done() {
      w.owner = nullptr;
      w.alarm->cancel();  // the watchdog wakes and leaves
    }
  } done{w};
  co_await body();
  if (w.ended) open_ = false;
}

// Runs `op(stream)` on the TLS stream or the plain socket.
template <class Op>
awaitable<std::pair<std::optional<NetError>, std::size_t>> Connection::step(NetStage stage, Op op) {
  auto [ec, n] = streams_->tls ? co_await op(*streams_->tls) : co_await op(streams_->socket);
  if (n > 0) watch_->last = time_.now();
  if (stage == NetStage::write)
    written_ += n;
  else
    read_ += n;
  if (ec) {
    open_ = false;
    co_return std::pair{fault(stage, ec, std::string(stage_name(stage))), n};
  }
  co_return std::pair{std::optional<NetError>{}, n};
}

awaitable<std::optional<NetError>> Connection::open(const ApiEndpoint& endpoint, bool refuse_loopback) {
  streams_ = std::make_unique<Streams>(ex_);
  buffer_.clear();
  open_ = false;
  host_ = endpoint.host;
  auto [rec, results] = co_await streams_->resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                                  asio::as_tuple(use_awaitable));
  if (rec) co_return fault(NetStage::resolve, rec, "cannot resolve " + endpoint.host);
  watch_->last = time_.now();
  if (refuse_loopback && !is_loopback_host(endpoint.host))
    for (const auto& r : results)
      if (r.endpoint().address().is_loopback())
        co_return NetError{NetStage::resolve, NetFault::refused_address, 0, 0,
                           endpoint.host + " resolves to a loopback address: not connected"};
  auto [cec, connected] = co_await asio::async_connect(streams_->socket, results, asio::as_tuple(use_awaitable));
  if (cec) co_return fault(NetStage::connect, cec, "connect to " + endpoint.host + ":" + std::to_string(endpoint.port));
  watch_->last = time_.now();
  error_code ignored;
  streams_->socket.set_option(tcp::no_delay(true), ignored);
  if (endpoint.tls) {
    if (!tls_context_)
      co_return NetError{NetStage::handshake, NetFault::other, 0, 0, "no TLS context for " + endpoint.host};
    auto& tls = streams_->tls.emplace(streams_->socket, *tls_context_);
    if (!prepare_tls_session(tls.native_handle(), endpoint.host))
      co_return NetError{NetStage::handshake, NetFault::other, 0, 0,
                         "cannot set up TLS name checking for " + endpoint.host};
    auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable));
    if (hec) {
      const auto reason = verify_failure_reason(tls.native_handle());
      if (!reason.empty() && !watch_->ended)
        co_return NetError{NetStage::handshake, NetFault::tls_verify, 0, 0,
                           "TLS certificate verification failed for " + endpoint.host + ": " + reason};
      co_return fault(NetStage::handshake, hec, "TLS handshake with " + endpoint.host);
    }
    watch_->last = time_.now();
  }
  open_ = true;
  co_return std::nullopt;
}

awaitable<std::optional<NetError>> Connection::write(const http::request<http::string_body>& request) {
  auto [e, n] = co_await step(
      NetStage::write, [&](auto& stream) { return http::async_write(stream, request, asio::as_tuple(use_awaitable)); });
  co_return e;
}

awaitable<std::optional<NetError>> Connection::read_head(http::basic_parser<false>& parser) {
  // The head is read a piece at a time and handed to the parser, so each
  // piece counts against the silence: a host sending its head slowly is not
  // taken for a silent one (Beast's own read of a head completes only once
  // the whole head is in). The parser's header limit bounds the buffer.
  while (!parser.is_header_done()) {
    if (buffer_.size() > 0) {
      error_code hec;
      buffer_.consume(parser.put(buffer_.data(), hec));
      if (hec == http::error::need_more) hec = {};
      if (hec) {
        open_ = false;
        co_return NetError{NetStage::read_head, NetFault::other, written_, read_,
                           "the reply from " + host_ + " is not HTTP: " + hec.message()};
      }
      if (parser.is_header_done()) break;
    }
    auto into = buffer_.prepare(16 * 1024);
    auto [e, n] = co_await step(
        NetStage::read_head, [&](auto& stream) { return stream.async_read_some(into, asio::as_tuple(use_awaitable)); });
    buffer_.commit(n);
    if (e) co_return e;
  }
  co_return std::nullopt;
}

awaitable<std::pair<std::optional<NetError>, std::size_t>> Connection::read_body_some(
    http::basic_parser<false>& parser) {
  auto [e, n] = co_await step(NetStage::read_body, [&](auto& stream) -> awaitable<std::tuple<error_code, std::size_t>> {
    auto [ec, got] = co_await http::async_read_some(stream, buffer_, parser, asio::as_tuple(use_awaitable));
    if (ec == http::error::need_buffer) ec = {};  // the body's buffer is full: the caller empties it
    co_return std::tuple{ec, got};
  });
  co_return std::pair{std::move(e), n};
}

awaitable<std::optional<NetError>> Connection::read_body(http::basic_parser<false>& parser) {
  while (!parser.is_done()) {
    auto [e, n] = co_await read_body_some(parser);
    if (e) co_return e;
  }
  co_return std::nullopt;
}

awaitable<std::pair<std::optional<NetError>, std::size_t>> Connection::read_raw(char* into, std::size_t room,
                                                                                std::size_t least) {
  std::size_t got = asio::buffer_copy(asio::buffer(into, room), buffer_.data());  // read with the head
  buffer_.consume(got);
  if (got == room) co_return std::pair{std::optional<NetError>{}, got};
  auto [e, n] = co_await step(NetStage::read_body, [&](auto& stream) {
    return asio::async_read(stream, asio::buffer(into + got, room - got),
                            ReadAtLeast{std::min(room - got, least), &time_, &watch_->last},
                            asio::as_tuple(use_awaitable));
  });
  co_return std::pair{std::move(e), got + n};
}

}  // namespace exportd
