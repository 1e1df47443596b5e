#pragma once

#include <string>
#include <string_view>

#include "time/duration.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// When the shared API token must be renewed. The API issues tokens for 24 h
// and says nothing of expiry in the reply, so the token is renewed after
// `refresh_after` from issue, and at once when a call finds it refused.
class TokenPolicy {
 public:
  explicit TokenPolicy(Millis refresh_after) : refresh_after_(refresh_after) {}

  bool must_renew(TimePoint now) const { return token_.empty() || now - issued_at_ >= refresh_after_; }
  void on_issued(std::string token, TimePoint now);
  // A call made with `token` was refused. Only that token is dropped: a call
  // that started before a renewal must not throw away the fresh token.
  void on_rejected(std::string_view token);
  const std::string& token() const { return token_; }

 private:
  Millis refresh_after_;
  std::string token_;
  TimePoint issued_at_{};
};

}  // namespace exportd
