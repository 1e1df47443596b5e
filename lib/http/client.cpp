#include "http/client.hpp"

#include <algorithm>
#include <optional>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "http/tls.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using namespace boost::asio::experimental::awaitable_operators;

struct HttpClient::Connection {
  Connection(asio::any_io_executor ex, asio::ssl::context* ctx) {
    if (ctx != nullptr)
      tls.emplace(ex, *ctx);
    else
      plain.emplace(ex);
  }
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool open = false;
  TimePoint last_used{};
};

// One try on one connection. `stale` marks the race where a kept-alive
// connection was closed by the server before our request reached it (EOF or
// reset before any reply byte): the request was not processed, so it may be
// sent again on a fresh connection.
struct HttpClient::Attempt {
  ApiResult<HttpReply> outcome;
  bool keep_alive = false;
  bool stale = false;
};

namespace {

ApiError transport_error(std::string message, bool maybe_processed = false) {
  ApiError e{Errc::transport, 0, "transport", std::move(message), std::nullopt};
  e.maybe_processed = maybe_processed;
  return e;
}

std::string describe(const error_code& ec, Millis timeout) {
  if (ec == beast::error::timeout) return "no reply within " + format_duration(timeout) + " (api.request_timeout)";
  return ec.message();
}

bool is_stale_connection_error(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

template <class Stream>
awaitable<HttpClient::Attempt> send_and_receive(Stream& stream, beast::flat_buffer& buffer,
                                                http::request<http::string_body>& req, std::size_t body_limit,
                                                Millis timeout, bool reused);

}  // namespace

HttpClient::HttpClient(asio::any_io_executor ex, Options options)
    : ex_(ex), options_(std::move(options)), released_(ex) {
  if (options_.endpoint.tls && !options_.tls) options_.tls = make_client_tls_context("");
}

HttpClient::~HttpClient() = default;

awaitable<std::unique_ptr<HttpClient::Connection>> HttpClient::acquire() {
  for (;;) {
    const auto now = Clock::now();
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (now - conn->last_used < options_.idle_limit) co_return conn;
      --open_;  // too long unused: the server may be about to drop it
    }
    if (open_ < options_.max_connections) {
      ++open_;
      co_return std::make_unique<Connection>(ex_, options_.endpoint.tls ? options_.tls.get() : nullptr);
    }
    co_await released_.wait();
  }
}

void HttpClient::set_max_connections(std::size_t n) {
  options_.max_connections = std::max<std::size_t>(1, n);
  while (open_ > options_.max_connections && !idle_.empty()) {
    idle_.pop_back();
    --open_;
  }
  released_.notify_all();  // waiters may go on a larger pool
}

void HttpClient::release(std::unique_ptr<Connection> conn, bool keep) {
  if (keep && conn->open && open_ <= options_.max_connections) {
    conn->last_used = Clock::now();
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  released_.notify_all();
}

awaitable<ApiResult<void>> HttpClient::connect(Connection& conn) {
  const auto& ep = options_.endpoint;
  tcp::resolver resolver(ex_);
  // The resolve has the same deadline as the rest of the exchange: a DNS
  // server that never answers must not hold a connection slot for good.
  // (|| cancels the loser and waits for it, so nothing outlives this frame.)
  asio::steady_timer deadline(ex_, options_.timeout);
  auto raced = co_await (resolver.async_resolve(ep.host, std::to_string(ep.port), asio::as_tuple(use_awaitable)) ||
                         deadline.async_wait(asio::as_tuple(use_awaitable)));
  if (raced.index() == 1)
    co_return transport_error("cannot resolve " + ep.host + ": no answer within " + format_duration(options_.timeout));
  auto [rec, results] = std::get<0>(std::move(raced));
  if (rec) co_return transport_error("cannot resolve " + ep.host + ": " + rec.message());
  auto [cec, endpoint] = co_await conn.tcp().async_connect(results, asio::as_tuple(use_awaitable));
  if (cec)
    co_return transport_error("connect to " + ep.host + ":" + std::to_string(ep.port) + ": " +
                              describe(cec, options_.timeout));
  conn.tcp().socket().set_option(tcp::no_delay(true));
  ++connections_opened_;
  if (conn.tls) {
    if (!prepare_tls_session(conn.tls->native_handle(), ep.host))
      co_return ApiError{Errc::tls, 0, "tls", "cannot set up TLS name checking for " + ep.host, std::nullopt};
    auto [hec] = co_await conn.tls->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable));
    if (hec) {
      const auto reason = verify_failure_reason(conn.tls->native_handle());
      if (!reason.empty())
        co_return ApiError{Errc::tls, 0, "tls_verify",
                           "TLS certificate verification failed for " + ep.host + ": " + reason, std::nullopt};
      co_return transport_error("TLS handshake with " + ep.host + " failed: " + describe(hec, options_.timeout));
    }
  }
  conn.open = true;
  co_return ApiResult<void>{};
}

namespace {

template <class Stream>
awaitable<HttpClient::Attempt> send_and_receive(Stream& stream, beast::flat_buffer& buffer,
                                                http::request<http::string_body>& req, std::size_t body_limit,
                                                Millis timeout, bool reused) {
  HttpClient::Attempt out;
  auto [wec, written] = co_await http::async_write(stream, req, asio::as_tuple(use_awaitable));
  if (wec) {
    out.stale = reused && is_stale_connection_error(wec);
    out.outcome = transport_error("sending request: " + describe(wec, timeout), written > 0);
    co_return out;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
  if (rec) {
    out.stale = reused && read == 0 && is_stale_connection_error(rec);
    out.outcome = transport_error("reading reply: " + describe(rec, timeout), true);
    co_return out;
  }
  auto res = parser.release();
  HttpReply reply;
  reply.status = static_cast<int>(res.result_int());
  if (auto it = res.find(http::field::retry_after); it != res.end()) reply.retry_after = std::string(it->value());
  reply.body = std::move(res.body());
  out.keep_alive = res.keep_alive();
  out.outcome = std::move(reply);
  co_return out;
}

}  // namespace

namespace {

// The request as Beast will write it, or why it cannot be sent. Every value
// that goes into the request line or a header is checked first: a token or
// target holding CR/LF would inject headers, and Beast throws on an
// oversized field, which must not leave the event loop.
ApiResult<http::request<http::string_body>> build_request(const ApiRequest& request, std::string_view token,
                                                          const std::string& host) {
  if (request.authorized && !is_token_text(token, max_token_bytes))
    return ApiError{Errc::malformed, 0, "bad_token", "the API token cannot be sent as a header", std::nullopt};
  if (request.target.empty() || request.target.size() > 16 * 1024 || !is_token_text(request.target, 16 * 1024))
    return ApiError{Errc::rejected, 0, "bad_target", "the request path holds characters a URL may not", std::nullopt};
  try {
    http::request<http::string_body> req{request.method, request.target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "exportd/" EXPORTD_VERSION);
    req.set(http::field::accept, "application/json");
    if (request.authorized) req.set(http::field::authorization, token);
    if (!request.body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = request.body;
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  } catch (const std::exception& e) {
    return ApiError{Errc::rejected, 0, "bad_request", std::string("the request cannot be built: ") + e.what(),
                    std::nullopt};
  }
}

}  // namespace

awaitable<HttpClient::Attempt> HttpClient::attempt(Connection& conn, const ApiRequest& request,
                                                   std::string_view token) {
  auto built = build_request(request, token, options_.endpoint.host_header());
  if (!built) co_return Attempt{built.error(), false, false};
  auto& req = *built;
  const bool reused = conn.open;
  conn.tcp().expires_after(options_.timeout);  // one deadline for connect, handshake, write and read
  if (!conn.open) {
    if (auto connected = co_await connect(conn); !connected) co_return Attempt{connected.error(), false, false};
  }
  if (conn.tls)
    co_return co_await send_and_receive(*conn.tls, conn.buffer, req, options_.body_limit, options_.timeout, reused);
  co_return co_await send_and_receive(*conn.plain, conn.buffer, req, options_.body_limit, options_.timeout, reused);
}

awaitable<ApiResult<HttpReply>> HttpClient::exchange(const ApiRequest& request, std::string_view token) {
  auto conn = co_await acquire();
  auto result = co_await attempt(*conn, request, token);
  if (metrics_ != nullptr) metrics_->api_request(request.call, call_outcome(result.outcome));
  if (result.stale && request.method == boost::beast::http::verb::get) {
    // The server closed the idle connection under us. Only a GET is sent
    // again blindly; a POST may have been processed and is left to the
    // caller, who verifies before resending.
    conn = std::make_unique<Connection>(ex_, options_.endpoint.tls ? options_.tls.get() : nullptr);
    result = co_await attempt(*conn, request, token);
    if (metrics_ != nullptr) metrics_->api_request(request.call, call_outcome(result.outcome));
  }
  const bool ok = result.outcome.has_value();
  release(std::move(conn), ok && result.keep_alive);
  co_return std::move(result.outcome);
}

}  // namespace exportd
