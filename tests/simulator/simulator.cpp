// The simulator's server: connections (plain and TLS), requests handed to
// the API's answers (sim_api.cpp), and the videos streamed.

#include "simulator.hpp"
#include "sim_state.hpp"
#include "videos.hpp"

#include <ctime>
#include <future>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace exportd::sim {

// GET /videos/<id>.mp4?link=N: the video, whole or from a range, streamed
// in pieces (never held whole), cut off, throttled or refused as the knobs say.
template <class Stream>
awaitable<bool> Simulator::State::serve_video(Stream& stream, const http::request<http::string_body>& req) {
  ++stats.video_requests;
  if (stats.video_first_request_ms == 0) stats.video_first_request_ms = wall_ms(std::chrono::system_clock::now());
  const std::string_view target = req.target();
  const auto query = target.find('?');
  const auto path = target.substr(0, query);
  std::string id(path.substr(std::string_view("/videos/").size()));
  if (id.size() > 4 && id.ends_with(".mp4")) id.resize(id.size() - 4);
  const auto link_at = target.find("link=", query == std::string_view::npos ? target.size() : query);
  const auto link_no = link_at == std::string_view::npos
                           ? 0
                           : std::strtoull(std::string(target.substr(link_at + 5)).c_str(), nullptr, 10);
  const auto refuse = [&](http::status status, const char* why) -> awaitable<bool> {
    ++stats.links_refused;
    auto res = reply(req, status, why, "text/plain");
    auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
    co_return !ec && res.keep_alive();
  };
  auto link = links.find(link_no);
  if (link == links.end() || link->second.id != id) co_return co_await refuse(http::status::forbidden, "no such link");
  if (link->second.dead) co_return co_await refuse(http::status::forbidden, "signature expired");
  if (knobs.link_lifetime.count() > 0 && std::chrono::steady_clock::now() - link->second.minted > knobs.link_lifetime)
    co_return co_await refuse(http::status::gone, "link expired");
  const auto size = exports.at(id).video_bytes;
  const auto etag = video_etag(id, size);

  // Range: bytes=START- or bytes=START-END; If-Range must match the ETag.
  std::uint64_t from = 0, to = size;  // [from, to)
  bool partial = false;
  if (auto r = req.find(http::field::range); r != req.end()) {
    const std::string spec(r->value());
    unsigned long long a = 0, b = 0;
    char dash = 0;
    const int got = std::sscanf(spec.c_str(), "bytes=%llu%c%llu", &a, &dash, &b);
    const auto if_range = req.find(http::field::if_range);
    const bool same = if_range == req.end() || if_range->value() == etag;
    if (got >= 2 && dash == '-' && a >= size && same && knobs.range_at_end_416) {
      ++stats.video_416;
      auto res = reply(req, http::status::range_not_satisfiable, "", "text/plain");
      res.set(http::field::content_range, "bytes */" + std::to_string(size));
      res.set(http::field::etag, etag);
      auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
      co_return !ec && res.keep_alive();
    }
    if (got >= 2 && dash == '-' && a < size && same) {
      if (roll() < knobs.video_ignore_range) {
        ++stats.video_ignored_ranges;
      } else {
        partial = true;
        from = a;
        if (got == 3 && b + 1 < size) to = b + 1;
      }
    }
  }
  http::response<http::buffer_body> res{partial ? http::status::partial_content : http::status::ok, req.version()};
  res.set(http::field::server, "aistudios-sim");
  res.set(http::field::content_type, "video/mp4");
  res.set(http::field::etag, etag);
  res.set(http::field::last_modified, "Tue, 24 Nov 2026 10:00:00 GMT");
  res.set(http::field::accept_ranges, "bytes");
  if (partial) {
    ++stats.video_partial;
    res.set(http::field::content_range,
            "bytes " + std::to_string(from) + "-" + std::to_string(to - 1) + "/" + std::to_string(size));
  }
  res.content_length(to - from);
  res.keep_alive(req.keep_alive());
  res.body().data = nullptr;
  res.body().more = true;
  http::response_serializer<http::buffer_body> sr{res};
  auto [hec, hn] = co_await http::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
  if (hec) co_return false;
  // Where a cut reply stops: somewhere in the body.
  const bool cut = roll() < knobs.video_cut && to - from > 1;
  const auto stop_at = cut ? from + 1 + rng() % (to - from - 1) : to;
  std::vector<char> buf(64 * 1024);
  asio::steady_timer pace(co_await asio::this_coro::executor);
  for (auto at = from; at < stop_at;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), stop_at - at));
    fill_video(id, at, buf.data(), n);
    res.body().data = buf.data();
    res.body().size = n;
    res.body().more = at + n < to;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [ec, w] = co_await http::async_write(stream, sr, asio::as_tuple(use_awaitable));
    if (ec && ec != http::error::need_buffer) co_return false;
    stats.video_bytes_sent += n;
    stats.video_last_byte_ms = wall_ms(std::chrono::system_clock::now());
    at += n;
    if (knobs.video_rate > 0) {
      pace.expires_after(std::chrono::microseconds(n * 1'000'000 / knobs.video_rate));
      co_await pace.async_wait(asio::as_tuple(use_awaitable));
    }
  }
  if (cut) {
    ++stats.video_cut;
    beast::get_lowest_layer(stream).close();
    co_return false;
  }
  if (to == from) {  // an empty body still ends the message
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, w] = co_await http::async_write(stream, sr, asio::as_tuple(use_awaitable));
    if (ec) co_return false;
  }
  co_return res.keep_alive();
}

template <class Stream>
awaitable<void> Simulator::State::serve(Stream& stream) {
  beast::flat_buffer buffer;
  asio::steady_timer delay(co_await asio::this_coro::executor);
  for (;;) {
    http::request<http::string_body> req;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(120));
    auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(use_awaitable));
    if (ec) co_return;
    if (req.method() == http::verb::get && req.target().starts_with("/videos/")) {
      if (!co_await serve_video(stream, req)) co_return;
      continue;
    }
    const bool api_call = req.target().rfind(api, 0) == 0;
    if (api_call) ++stats.requests;
    if (api_call && in_outage()) {
      ++stats.outage_requests;
      beast::get_lowest_layer(stream).close();
      co_return;
    }
    if (knobs.latency.count() > 0) {
      delay.expires_after(knobs.latency);
      co_await delay.async_wait(asio::as_tuple(use_awaitable));
    }
    http::response<http::string_body> res;
    const bool submit_call = req.method() == http::verb::post && (req.target().ends_with("/editor/project/export") ||
                                                                  req.target().ends_with("/editor/project"));
    if (api_call && submit_call && knobs.drop_exports) {
      ++stats.dropped_exports;
      beast::get_lowest_layer(stream).close();
      co_return;
    }
    const auto fault = pick_fault(req);
    close_after_reply = false;
    if (api_call && over_rate()) {
      ++stats.rate_limited;
      res = fail(req, http::status::too_many_requests, 429, "rate limit exceeded");
      res.set(http::field::retry_after, "1");
    } else
      switch (fault) {
        case Fault::drop:
          ++stats.injected_faults;
          beast::get_lowest_layer(stream).close();
          co_return;
        case Fault::drop_after:
          ++stats.injected_faults;
          handle(req);  // it takes effect; the reply is lost on the way
          beast::get_lowest_layer(stream).close();
          co_return;
        case Fault::slow:
          ++stats.injected_faults;
          delay.expires_after(knobs.slow);
          co_await delay.async_wait(asio::as_tuple(use_awaitable));
          res = handle(req);
          break;
        case Fault::html:
          ++stats.injected_faults;
          res = reply(req, http::status::ok, "<html><body><h1>Gateway says hello</h1></body></html>", "text/html");
          break;
        case Fault::throttle:
          ++stats.injected_faults;
          res = fail(req, http::status::too_many_requests, 429, "slow down");
          res.set(http::field::retry_after, retry_after_value());
          break;
        case Fault::unavailable:
          ++stats.injected_faults;
          res = reply(req, http::status::service_unavailable, "<html>503 Service Unavailable</html>", "text/html");
          break;
        case Fault::none:
          res = handle(req);
          if (close_after_reply) {  // it took effect; the reply is lost on the way
            close_after_reply = false;
            beast::get_lowest_layer(stream).close();
            co_return;
          }
      }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [wec, w] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
    if (wec || !res.keep_alive()) co_return;
  }
}

awaitable<void> Simulator::State::session(tcp::socket socket) {
  if (!tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(use_awaitable));
  if (ec) co_return;
  co_await serve(stream);
}

awaitable<void> Simulator::State::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

Simulator::Simulator(Knobs knobs, const std::string& host, std::uint16_t port, const TlsFiles* tls)
    : io_(1), state_(std::make_unique<State>(io_, std::move(knobs))) {
  if (tls != nullptr) {
    state_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    state_->tls->use_certificate_chain_file(tls->cert);
    state_->tls->use_private_key_file(tls->key, asio::ssl::context::pem);
  }
  tcp::endpoint ep(asio::ip::make_address(host), port);
  state_->acceptor.open(ep.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(ep);
  state_->acceptor.listen(asio::socket_base::max_listen_connections);
  port_ = state_->acceptor.local_endpoint().port();
  asio::co_spawn(io_, state_->accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

Simulator::~Simulator() { stop(); }

std::uint16_t Simulator::port() const { return port_; }

Stats Simulator::stats() {
  std::promise<Stats> p;
  asio::post(io_, [&] { p.set_value(state_->stats); });
  return p.get_future().get();
}

void Simulator::set_knobs(const Knobs& k) {
  std::promise<void> p;
  asio::post(io_, [&] {
    state_->knobs = k;
    p.set_value();
  });
  p.get_future().get();
}

std::string Simulator::finished_video(const std::string& id, std::uint64_t bytes) {
  std::promise<std::string> p;
  asio::post(io_, [&] {
    auto& e = state_->exports[id];
    e.project_id = id;
    e.started = std::chrono::steady_clock::now();
    e.started_wall = std::chrono::system_clock::now();
    e.duration = Millis(0);
    e.video_bytes = bytes;
    p.set_value(state_->mint_link(id, e));
  });
  return p.get_future().get();
}

void Simulator::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

}  // namespace exportd::sim
