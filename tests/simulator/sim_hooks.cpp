// The simulator calling a job's webhook, as the API would (SPEC §9).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include "sim_state.hpp"

namespace exportd::sim {

// One call of a job's webhook, `after` from now.
awaitable<void> Simulator::State::call_hook(std::string url, Millis after, http::verb method, json::object fields) {
  asio::steady_timer wait(acceptor.get_executor(), after);
  co_await wait.async_wait(asio::as_tuple(use_awaitable));
  ++stats.hooks_sent;
  auto u = boost::urls::parse_uri(url);
  if (!u) {
    ++stats.hooks_failed;
    co_return;
  }
  const bool https = u->scheme() == "https";
  const std::string host(u->host());
  const std::string port = u->has_port() ? std::string(u->port()) : (https ? "443" : "80");
  std::string target(u->encoded_path());
  if (method == http::verb::get) {
    std::string q;
    for (const auto& [k, v] : fields) {
      q += (q.empty() ? "?" : "&") + std::string(k) + "=";
      q += v.is_string() ? std::string(v.as_string()) : json::serialize(v);
    }
    target += q;
  }
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host);
  if (method == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = json::serialize(fields);
  }
  req.prepare_payload();
  tcp::resolver resolver(acceptor.get_executor());
  auto [rec, results] = co_await resolver.async_resolve(host, port, asio::as_tuple(use_awaitable));
  if (rec) {
    ++stats.hooks_failed;
    co_return;
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  boost::system::error_code ec;
  if (https) {
    if (!hook_tls) {
      hook_tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      hook_tls->set_verify_mode(asio::ssl::verify_peer);
      if (!knobs.hook_ca_file.empty()) hook_tls->load_verify_file(knobs.hook_ca_file);
    }
    beast::ssl_stream<beast::tcp_stream> stream(acceptor.get_executor(), *hook_tls);
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    stream.set_verify_callback(asio::ssl::host_name_verification(host));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    std::tie(ec, std::ignore) =
        co_await beast::get_lowest_layer(stream).async_connect(results, asio::as_tuple(use_awaitable));
    if (!ec)
      std::tie(ec) = co_await stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable));
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_write(stream, req, asio::as_tuple(use_awaitable));
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, res, asio::as_tuple(use_awaitable));
  } else {
    beast::tcp_stream stream(acceptor.get_executor());
    stream.expires_after(std::chrono::seconds(10));
    std::tie(ec, std::ignore) = co_await stream.async_connect(results, asio::as_tuple(use_awaitable));
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_write(stream, req, asio::as_tuple(use_awaitable));
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, res, asio::as_tuple(use_awaitable));
  }
  if (ec)
    ++stats.hooks_failed;
  else if (res.result_int() / 100 == 2)
    ++stats.hooks_ok;
  else
    ++stats.hooks_refused;
}

}  // namespace exportd::sim
