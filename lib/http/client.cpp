#include "http/client.hpp"

#include <algorithm>
#include <optional>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/connection.hpp"
#include "http/tls.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;

struct HttpClient::Pooled {
  Pooled(asio::any_io_executor ex, EngineTime& time, std::shared_ptr<asio::ssl::context> tls)
      : link(ex, time, std::move(tls)) {}
  Connection link;
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

ApiError transport_error(std::string message, bool maybe_processed) {
  ApiError e{Errc::transport, 0, "transport", std::move(message), std::nullopt};
  e.maybe_processed = maybe_processed;
  return e;
}

// A connection's failure as the API caller reads it. A certificate that does
// not verify is Errc::tls: every call goes to the one API host, so the run
// stops and says why (a video host's bad certificate fails one job instead).
ApiError api_error(const NetError& e, Millis timeout) {
  if (e.fault == NetFault::tls_verify) return ApiError{Errc::tls, 0, "tls_verify", e.message, std::nullopt};
  // Past the request's first byte the API may have acted on it.
  const bool maybe_processed = e.written > 0;
  if (e.timed_out())
    return transport_error("no reply within " + format_duration(timeout) + " (api.request_timeout) while " +
                               std::string(stage_name(e.stage)),
                           maybe_processed);
  return transport_error(e.message, maybe_processed);
}

}  // namespace

HttpClient::HttpClient(asio::any_io_executor ex, Options options, EngineTime& time)
    : ex_(ex), options_(std::move(options)), time_(time), released_(ex) {
  if (options_.endpoint.tls && !options_.tls) options_.tls = make_client_tls_context("");
}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Pooled> HttpClient::fresh() const {
  return std::make_unique<Pooled>(ex_, time_, options_.endpoint.tls ? options_.tls : nullptr);
}

awaitable<std::unique_ptr<HttpClient::Pooled>> HttpClient::acquire() {
  for (;;) {
    const auto now = time_.now();
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (now - conn->last_used < options_.idle_limit) co_return conn;
      --open_;  // too long unused: the server may be about to drop it
    }
    if (open_ < options_.max_connections) {
      ++open_;
      co_return fresh();
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

void HttpClient::release(std::unique_ptr<Pooled> conn, bool keep) {
  if (keep && conn->link.is_open() && open_ <= options_.max_connections) {
    conn->last_used = time_.now();
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  released_.notify_all();
}

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

awaitable<HttpClient::Attempt> HttpClient::attempt(Pooled& conn, const ApiRequest& request, std::string_view token) {
  auto built = build_request(request, token, options_.endpoint.host_header());
  if (!built) co_return Attempt{built.error(), false, false};
  const auto& req = *built;
  auto& link = conn.link;
  const bool reused = link.is_open();
  Attempt out;
  const auto fail = [&](const NetError& e) {
    // Stale: a kept-alive connection the server closed before any reply byte.
    out.stale = reused && e.fault == NetFault::closed && e.read == 0;
    out.outcome = api_error(e, options_.timeout);
  };
  co_await link.run(Deadlines::total(time_.now(), options_.timeout), [&]() -> awaitable<void> {
    if (!reused) {
      if (auto failed = co_await link.open(options_.endpoint, false)) co_return fail(*failed);
      ++connections_opened_;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.body_limit);
    auto failed = co_await link.write(req);
    if (!failed) failed = co_await link.read_head(parser);
    if (!failed) failed = co_await link.read_body(parser);
    if (failed) co_return fail(*failed);
    auto res = parser.release();
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    if (auto it = res.find(http::field::retry_after); it != res.end()) reply.retry_after = std::string(it->value());
    reply.body = std::move(res.body());
    out.keep_alive = res.keep_alive();
    out.outcome = std::move(reply);
  });
  co_return out;
}

awaitable<ApiResult<HttpReply>> HttpClient::exchange(const ApiRequest& request, std::string_view token) {
  auto conn = co_await acquire();
  auto result = co_await attempt(*conn, request, token);
  if (metrics_ != nullptr) metrics_->api_request(request.call, call_outcome(result.outcome));
  if (result.stale && request.method == boost::beast::http::verb::get) {
    // The server closed the idle connection under us. Only a GET is sent
    // again blindly; a POST may have been processed and is left to the
    // caller, who verifies before resending.
    conn = fresh();
    result = co_await attempt(*conn, request, token);
    if (metrics_ != nullptr) metrics_->api_request(request.call, call_outcome(result.outcome));
  }
  const bool ok = result.outcome.has_value();
  release(std::move(conn), ok && result.keep_alive);
  co_return std::move(result.outcome);
}

}  // namespace exportd
