#pragma once

#include <cstdint>

#include "api/transport.hpp"
#include "schedule/engine_time.hpp"
#include "schedule/request_budget.hpp"

namespace exportd {

// Puts every call, token calls included, through the shared request budget,
// then hands it to the real transport. Counts what went out.
class PacedTransport final : public Transport {
 public:
  PacedTransport(boost::asio::any_io_executor ex, Transport& inner, std::uint32_t requests_per_second,
                 EngineTime& time)
      : ex_(ex), inner_(inner), budget_(requests_per_second), time_(time) {}

  boost::asio::awaitable<ApiResult<HttpReply>> exchange(const ApiRequest& request, std::string_view token) override {
    const auto slot = budget_.reserve(time_.now());
    if (slot > time_.now()) {
      auto alarm = time_.alarm(ex_);
      alarm->expires_at(slot);
      while (time_.now() < slot) co_await alarm->wait();
    }
    ++sent_;
    auto reply = co_await inner_.exchange(request, token);
    if (reply) budget_.on_reply(time_.now(), reply->status == 429);  // throttled for real: everybody slows down
    co_return reply;
  }

  double rate() const { return budget_.rate(time_.now()); }
  void set_rate(std::uint32_t requests_per_second) { budget_.set_rate(requests_per_second); }

  std::uint64_t sent() const { return sent_; }

 private:
  boost::asio::any_io_executor ex_;
  Transport& inner_;
  RequestBudget budget_;
  EngineTime& time_;
  std::uint64_t sent_ = 0;
};

}  // namespace exportd
