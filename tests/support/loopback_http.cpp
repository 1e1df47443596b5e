#include "loopback_http.hpp"

#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace exportd::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

bool connect(beast::tcp_stream& stream, std::uint16_t port) {
  stream.expires_after(std::chrono::seconds(10));
  boost::system::error_code ec;
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  return !ec;
}

// Sends one request and reads its reply (a HEAD's without a body).
LoopbackReply exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, http::verb method,
                       const std::string& target, const std::string& body, bool keep_alive) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(keep_alive);
  req.prepare_payload();
  boost::system::error_code ec;
  http::write(stream, req, ec);
  if (ec) return {};
  http::response_parser<http::string_body> parser;
  parser.skip(method == http::verb::head);
  http::read(stream, buffer, parser, ec);
  if (ec) return {};
  const auto& res = parser.get();
  return {true, static_cast<int>(res.result_int()), std::string(res[http::field::content_type]), res.body(),
          std::string(res[http::field::content_length])};
}

}  // namespace

LoopbackReply loopback_request(std::uint16_t port, http::verb method, const std::string& target,
                               const std::string& body) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  if (!connect(stream, port)) return {};
  beast::flat_buffer buffer;
  return exchange(stream, buffer, method, target, body, false);
}

std::pair<LoopbackReply, LoopbackReply> loopback_head_then_get(std::uint16_t port, const std::string& target) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  if (!connect(stream, port)) return {};
  beast::flat_buffer buffer;
  auto head = exchange(stream, buffer, http::verb::head, target, {}, true);
  auto get = exchange(stream, buffer, http::verb::get, target, {}, false);
  return {std::move(head), std::move(get)};
}

}  // namespace exportd::testing
