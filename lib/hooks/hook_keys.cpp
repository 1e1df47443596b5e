#include "hooks/hook_keys.hpp"

#include <cerrno>
#include <system_error>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ops/durable_write.hpp"
#include "ops/file_read.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace {

constexpr std::size_t secret_bytes = 32;
constexpr std::size_t token_bytes = 16;  // 128 bits

}  // namespace

Result<HookKeys> HookKeys::open(const std::string& state_dir) {
  const std::string path = state_dir + "/hook.key";
  if (auto existing = read_regular_file(path, 4096)) {
    if (existing->size() != secret_bytes)
      return Failure{Errc::invalid_input,
                     path +
                         " is not a 32-byte key; remove it to make a new one "
                         "(hooks of jobs already submitted will then be refused, and they are polled)"};
    return HookKeys(std::move(*existing));
  } else if (existing.error().code != boost::system::error_code(ENOENT, boost::system::system_category())) {
    return Failure{existing.error().code, "cannot read " + path + ": " + existing.error().message};
  }
  std::string secret(secret_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1)
    return Failure{Errc::write_failed, "the system has no randomness for " + path};
  try {
    write_file_durably(path, secret, 0600);  // made 0600 from the start, renamed into place whole
  } catch (const std::system_error& e) {
    return Failure{boost::system::error_code(e.code().value(), boost::system::system_category()), e.what()};
  }
  return HookKeys(std::move(secret));
}

std::string HookKeys::token_for(std::string_view batch, std::string_view job_key) const {
  std::string message;
  message.reserve(batch.size() + 1 + job_key.size());
  message.append(batch).append("/").append(job_key);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < token_bytes && i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

bool looks_like_hook_token(std::string_view text) {
  return is_lower_hex(text, 2 * token_bytes);
}

}  // namespace exportd
