#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/transport.hpp"

namespace exportd::testing {

// A Transport that answers from a script, no sockets involved. Each call
// yields to the event loop once before answering, so concurrent callers
// really overlap, as they would on the network.
class ScriptedTransport final : public Transport {
 public:
  using Responder = std::function<ApiResult<HttpReply>(const ApiRequest&, std::string_view token)>;
  explicit ScriptedTransport(Responder r) : respond_(std::move(r)) {}

  boost::asio::awaitable<ApiResult<HttpReply>> exchange(const ApiRequest& request, std::string_view token) override {
    calls.push_back({request.call, std::string(token)});
    co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
    co_return respond_(request, token);
  }

  struct Call {
    ApiCall call;
    std::string token;
  };
  std::vector<Call> calls;

  std::size_t count(ApiCall c) const {
    std::size_t n = 0;
    for (const auto& x : calls) n += x.call == c;
    return n;
  }

 private:
  Responder respond_;
};

inline HttpReply ok_json(const std::string& data) { return {200, R"({"success":true,"data":)" + data + "}", ""}; }

}  // namespace exportd::testing
