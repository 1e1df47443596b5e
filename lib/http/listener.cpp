#include "http/listener.hpp"

#include <cerrno>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace exportd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

Result<std::unique_ptr<HttpListener>> HttpListener::bind(asio::any_io_executor ex, const std::string& what,
                                                         const std::string& host, std::uint16_t port, Handler handler,
                                                         Logger& log, ListenerLimits limits) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Failure{Errc::invalid_input, what + ": '" + host + "' is not an IP address"};
  tcp::acceptor acceptor(ex);
  const tcp::endpoint where(address, port);
  const std::string named = what + " " + host + ":" + std::to_string(port);
  if (acceptor.open(where.protocol(), ec); ec)
    return Failure{ec, "cannot open a socket for " + named + ": " + ec.message()};
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(where, ec); ec) return Failure{ec, "cannot bind " + named + ": " + ec.message()};
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    return Failure{ec, "cannot listen on " + named + ": " + ec.message()};
  return std::make_unique<HttpListener>(ex, std::move(acceptor), what, std::move(handler), log, limits);
}

HttpListener::HttpListener(asio::any_io_executor ex, tcp::acceptor acceptor, std::string what, Handler handler,
                           Logger& log, ListenerLimits limits)
    : ex_(ex),
      acceptor_(std::move(acceptor)),
      what_(std::move(what)),
      handler_(std::move(handler)),
      log_(log),
      limits_(limits) {
  boost::system::error_code ec;
  port_ = acceptor_.local_endpoint(ec).port();
}

void HttpListener::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& o : open_) o.stream->socket().close(ec);
}

void HttpListener::shed(std::list<Open>::iterator it) {
  if (it->shed) return;
  it->shed = true;
  --live_;
  boost::system::error_code ec;
  it->stream->socket().close(ec);  // its coroutine ends and takes it out of open_
}

std::list<HttpListener::Open>::iterator HttpListener::oldest(bool idle_only, const asio::ip::address* of_peer) {
  for (auto it = open_.begin(); it != open_.end(); ++it)
    if (!it->shed && (of_peer == nullptr || it->peer == *of_peer) && (!idle_only || it->idle)) return it;
  return open_.end();
}

void HttpListener::make_room(const asio::ip::address& peer) {
  std::size_t from_peer = 0;
  for (const auto& o : open_) from_peer += !o.shed && o.peer == peer;
  const bool peer_full = from_peer >= limits_.max_per_peer;
  if (!peer_full && live_ < limits_.max_connections) return;
  const auto* of_peer = peer_full ? &peer : nullptr;
  auto victim = oldest(true, of_peer);
  if (victim == open_.end()) victim = oldest(false, of_peer);
  if (victim != open_.end()) shed(victim);
}

asio::awaitable<void> HttpListener::pause_accepting(const boost::system::error_code& ec) {
  if (!paused_)
    log_.warning("accept_paused", {{"listener", what_},
                                   {"error", ec.message()},
                                   {"open", std::to_string(live_)},
                                   {"why", "out of file descriptors: raise LimitNOFILE, or fewer clients"}});
  paused_ = true;
  ++pauses_;
  last_pause_ = std::chrono::steady_clock::now();
  // A descriptor freed for the connection waiting in the backlog.
  if (const auto idle = oldest(true, nullptr); idle != open_.end()) shed(idle);
  asio::steady_timer wait(ex_, limits_.accept_pause);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> HttpListener::run() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory) {
        // The connection stays in the backlog and the socket readable: without a pause this would spin.
        co_await pause_accepting(ec);
        continue;
      }
      log_.warning("accept_failed", {{"listener", what_}, {"error", ec.message()}});
      continue;
    }
    // The episode ends once accepting has gone on without a pause for a
    // while (each pause frees a place that a crowd may take again at once).
    if (paused_ && std::chrono::steady_clock::now() - last_pause_ >= quiet_to_resume) {
      log_.info("accept_resumed",
                {{"listener", what_}, {"open", std::to_string(live_)}, {"pauses", std::to_string(pauses_)}});
      paused_ = false;
      pauses_ = 0;
    }
    boost::system::error_code pec;
    const auto peer = socket.remote_endpoint(pec).address();
    if (pec) continue;  // gone already
    make_room(peer);
    // Each connection ends by its own deadline; what it throws is its own.
    asio::co_spawn(ex_, serve(std::move(socket), peer), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log_.warning("connection_failed", {{"listener", what_}, {"error", x.what()}});
      }
    });
  }
}

asio::awaitable<void> HttpListener::serve(tcp::socket socket, asio::ip::address peer) {
  beast::tcp_stream stream(std::move(socket));
  const auto since = std::chrono::steady_clock::now();
  open_.push_back(Open{&stream, peer, since});
  ++live_;
  const auto me = std::prev(open_.end());
  beast::flat_buffer buffer;
  for (;;) {
    // Idle until the first byte of a request: the connection may be shed to make room.
    me->idle = buffer.size() == 0;
    stream.expires_after(limits_.request_deadline);  // the whole request, slow senders included
    if (buffer.size() == 0) {
      auto [rec, got] = co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(asio::use_awaitable));
      buffer.commit(got);
      if (rec) break;
    }
    me->idle = false;
    http::request_parser<http::string_body> parser;
    parser.body_limit(limits_.max_body);
    parser.header_limit(16 * 1024);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec && ec != http::error::body_limit) break;  // closed, timed out, or not HTTP: nothing to answer
    const auto& req = parser.get();
    const bool too_large = ec == http::error::body_limit;
    // The rest of a cut-off body is not read; a connection past its life is closed after this reply.
    const bool keep_alive =
        !too_large && req.keep_alive() && !me->shed && std::chrono::steady_clock::now() - since < limits_.max_life;
    const Answer answer = handler_(Incoming{req.method(), req.target(), too_large});
    http::response<http::string_body> res{answer.status, 11};
    res.set(http::field::content_type, answer.content_type);
    res.keep_alive(keep_alive);
    res.body() = answer.body;
    res.prepare_payload();
    stream.expires_after(limits_.request_deadline);
    boost::system::error_code wec;
    if (req.method() == http::verb::head) {
      // The head a GET would have, its Content-Length included, and not the body (RFC 9110 §9.3.2).
      http::response_serializer<http::string_body> head(res);
      std::tie(wec, std::ignore) = co_await http::async_write_header(stream, head, asio::as_tuple(asio::use_awaitable));
    } else {
      std::tie(wec, std::ignore) = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    }
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (!me->shed) --live_;
  open_.erase(me);
}

}  // namespace exportd
