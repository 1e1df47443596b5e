#include "auth/token_policy.hpp"

namespace exportd {

void TokenPolicy::on_issued(std::string token, TimePoint now) {
  token_ = std::move(token);
  issued_at_ = now;
}

void TokenPolicy::on_rejected(std::string_view token) {
  if (!token.empty() && token == token_) token_.clear();
}

}  // namespace exportd
