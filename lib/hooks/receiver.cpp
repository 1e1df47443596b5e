#include "hooks/receiver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/http/parser.hpp>

namespace exportd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string_view hook_token_in(std::string_view target) {
  target = target.substr(0, target.find('?'));
  constexpr std::string_view marker = "/hooks/";
  const auto at = target.rfind(marker);
  if (at == std::string_view::npos) return {};
  const auto token = target.substr(at + marker.size());
  return token.find('/') == std::string_view::npos ? token : std::string_view{};
}

Result<std::unique_ptr<HookReceiver>> HookReceiver::bind(asio::any_io_executor ex, const std::string& host,
                                                         std::uint16_t port, OnHook on_hook, Logger& log,
                                                         ReceiverLimits limits) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Failure{Errc::invalid_input, "webhook.listen: '" + host + "' is not an IP address"};
  tcp::acceptor acceptor(ex);
  const tcp::endpoint where(address, port);
  const std::string named = "webhook.listen " + host + ":" + std::to_string(port);
  if (acceptor.open(where.protocol(), ec); ec) return Failure{ec, "cannot open a socket for " + named + ": " + ec.message()};
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(where, ec); ec) return Failure{ec, "cannot bind " + named + ": " + ec.message()};
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    return Failure{ec, "cannot listen on " + named + ": " + ec.message()};
  return std::make_unique<HookReceiver>(ex, std::move(acceptor), std::move(on_hook), log, limits);
}

HookReceiver::HookReceiver(asio::any_io_executor ex, tcp::acceptor acceptor, OnHook on_hook, Logger& log,
                           ReceiverLimits limits)
    : ex_(ex), acceptor_(std::move(acceptor)), on_hook_(std::move(on_hook)), log_(log), limits_(limits) {
  boost::system::error_code ec;
  port_ = acceptor_.local_endpoint(ec).port();
}

void HookReceiver::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto* stream : open_) stream->socket().close(ec);
}

asio::awaitable<void> HookReceiver::run() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      log_.warning("hook_accept_failed", {{"error", ec.message()}});
      continue;  // e.g. out of file descriptors: the next accept may do
    }
    if (open_.size() >= limits_.max_connections) {
      socket.close(ec);
      continue;
    }
    // Each connection ends by its own deadline; what it throws is its own.
    asio::co_spawn(ex_, serve(std::move(socket)), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log_.warning("hook_connection_failed", {{"error", x.what()}});
      }
    });
  }
}

asio::awaitable<void> HookReceiver::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  open_.push_front(&stream);
  const auto registered = open_.begin();
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(limits_.max_body);
    parser.header_limit(16 * 1024);
    stream.expires_after(limits_.request_deadline);  // the whole request, slow senders included
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    http::status status = http::status::ok;
    bool keep_alive = false;
    if (ec == http::error::body_limit) {
      status = http::status::payload_too_large;
    } else if (ec) {
      break;  // closed, timed out, or not HTTP: nothing to answer
    } else {
      const auto& req = parser.get();
      keep_alive = req.keep_alive();
      const auto token = hook_token_in(req.target());
      if (req.method() != http::verb::post && req.method() != http::verb::get) {
        status = http::status::method_not_allowed;
      } else {
        if (on_hook_(token) == HookAnswer::unknown) status = http::status::not_found;
      }
    }
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = status == http::status::ok ? R"({"ok":true})" : R"({"ok":false})";
    res.prepare_payload();
    stream.expires_after(limits_.request_deadline);
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  open_.erase(registered);
}

}  // namespace exportd
