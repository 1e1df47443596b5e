#pragma once

#include <cstdint>

#include <boost/asio/steady_timer.hpp>

#include "api/transport.hpp"
#include "schedule/request_budget.hpp"

namespace exportd {

// Puts every call, token calls included, through the shared request budget,
// then hands it to the real transport. Counts what went out.
class PacedTransport final : public Transport {
 public:
  PacedTransport(boost::asio::any_io_executor ex, Transport& inner, std::uint32_t requests_per_second)
      : ex_(ex), inner_(inner), budget_(requests_per_second) {}

  boost::asio::awaitable<std::variant<HttpReply, ApiError>> exchange(const ApiRequest& request,
                                                                    std::string_view token) override {
    const auto slot = budget_.reserve(Clock::now());
    if (slot > Clock::now()) {
      boost::asio::steady_timer timer(ex_, slot);
      co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    ++sent_;
    auto reply = co_await inner_.exchange(request, token);
    if (const auto* r = std::get_if<HttpReply>(&reply))
      budget_.on_reply(Clock::now(), r->status == 429);  // throttled for real: everybody slows down
    co_return reply;
  }

  double rate() const { return budget_.rate(Clock::now()); }
  void set_rate(std::uint32_t requests_per_second) { budget_.set_rate(requests_per_second); }

  std::uint64_t sent() const { return sent_; }

 private:
  boost::asio::any_io_executor ex_;
  Transport& inner_;
  RequestBudget budget_;
  std::uint64_t sent_ = 0;
};

}  // namespace exportd
