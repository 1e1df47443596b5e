#pragma once

// The per-job tokens of the webhook receiver (SPEC §9). A token is
// HMAC-SHA256(secret, batch "/" job key), cut to 128 bits and written in hex:
// unguessable without the secret, and the same after a restart because the
// secret lives in state_dir/hook.key (32 random bytes, mode 0600, made once).
// Nothing else about a token is stored, and no token is ever logged.

#include <string>
#include <string_view>

#include "error/error.hpp"

namespace exportd {

class HookKeys {
 public:
  // Reads state_dir/hook.key, or creates it when it does not exist yet.
  static Result<HookKeys> open(const std::string& state_dir);
  // For tests: a fixed secret.
  explicit HookKeys(std::string secret) : secret_(std::move(secret)) {}

  std::string token_for(std::string_view batch, std::string_view job_key) const;

 private:
  std::string secret_;
};

// 32 lowercase hex characters: what a token looks like (checked before any lookup).
bool looks_like_hook_token(std::string_view text);

}  // namespace exportd
