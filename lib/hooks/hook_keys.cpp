#include "hooks/hook_keys.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ops/durable_write.hpp"
#include "ops/file_read.hpp"

namespace exportd {

namespace {

constexpr std::size_t secret_bytes = 32;
constexpr std::size_t token_bytes = 16;  // 128 bits

Failure os_failure(int err, const std::string& what) {
  return {boost::system::error_code(err, boost::system::system_category()), what + ": " + std::strerror(err)};
}

}  // namespace

Result<HookKeys> HookKeys::open(const std::string& state_dir) {
  const std::string path = state_dir + "/hook.key";
  if (auto existing = read_regular_file(path, 4096)) {
    if (existing->size() != secret_bytes)
      return Failure{Errc::invalid_input, path + " is not a 32-byte key; remove it to make a new one "
                                                 "(hooks of jobs already submitted will then be refused, and they are polled)"};
    return HookKeys(std::move(*existing));
  } else if (existing.error().code != boost::system::error_code(ENOENT, boost::system::system_category())) {
    return Failure{existing.error().code, "cannot read " + path + ": " + existing.error().message};
  }
  std::string secret(secret_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1)
    return Failure{Errc::write_failed, "the system has no randomness for " + path};
  // Made 0600 from the start, then renamed into place whole.
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return os_failure(errno, "cannot create " + tmp);
  try {
    write_fully_and_sync(fd, secret, tmp);
  } catch (const std::system_error& e) {
    ::close(fd);
    return Failure{boost::system::error_code(e.code().value(), boost::system::system_category()), e.what()};
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return os_failure(errno, "cannot rename " + tmp);
  sync_directory(state_dir);
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
  return text.size() == 2 * token_bytes && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace exportd
