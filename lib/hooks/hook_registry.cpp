#include "hooks/hook_registry.hpp"

namespace exportd {

void HookRegistry::use(const HookKeys& keys, const std::string& public_url) {
  keys_ = &keys;
  url_ = public_url + "/hooks/";
}

std::string HookRegistry::token(std::string_view batch, std::string_view job_key) const {
  return keys_->token_for(batch, job_key);
}

HookRegistry::Lookup HookRegistry::find(std::string_view token) const {
  if (!looks_like_hook_token(token)) return {};
  const std::string key(token);
  if (const auto it = awaiting_.find(key); it != awaiting_.end()) return {HookAnswer::accepted, it->second};
  return {ended_.contains(key) ? HookAnswer::ended : HookAnswer::unknown};
}

void HookRegistry::ended(std::string token) {
  awaiting_.erase(token);
  if (max_ended_ == 0 || ended_.contains(token)) return;
  if (ended_order_.size() >= max_ended_) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
  ended_.insert(token);
  ended_order_.push_back(std::move(token));
}

std::optional<TimePoint> HookRegistry::hint(std::uint32_t job) const {
  const auto it = hinted_at_.find(job);
  if (it == hinted_at_.end()) return std::nullopt;
  return it->second;
}

}  // namespace exportd
