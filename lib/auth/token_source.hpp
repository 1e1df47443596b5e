#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/transport.hpp"
#include "auth/token_policy.hpp"
#include "schedule/engine_time.hpp"
#include "schedule/signal.hpp"

namespace exportd {

// The one API token every job shares. get() hands out the current token; when
// it must be renewed, the first caller fetches a new one and every other
// caller waits for that same fetch (single flight): N jobs whose calls were
// refused together cause one token request, not N.
class TokenSource {
 public:
  TokenSource(boost::asio::any_io_executor ex, Transport& transport, ApiEndpoint endpoint, std::string app_id,
              std::string user_key, Millis refresh_after, EngineTime& time);

  boost::asio::awaitable<ApiResult<std::string>> get();
  // Report that a call made with `token` was refused as unauthorised.
  void reject(std::string_view token) { policy_.on_rejected(token); }

  std::uint64_t requests() const { return requests_; }
  std::uint64_t issued() const { return issued_; }  // fetches that brought a token

 private:
  Transport& transport_;
  ApiEndpoint endpoint_;
  std::string app_id_;
  std::string user_key_;
  TokenPolicy policy_;
  EngineTime& time_;
  Signal settled_;
  bool renewing_ = false;
  std::uint64_t generation_ = 0;        // completed fetches, successful or not
  std::optional<ApiError> last_error_;  // of the last fetch, for its waiters
  std::uint64_t requests_ = 0;
  std::uint64_t issued_ = 0;
};

}  // namespace exportd
