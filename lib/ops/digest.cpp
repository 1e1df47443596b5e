#include "ops/digest.hpp"

#include <algorithm>
#include <new>

#include <openssl/evp.h>

namespace exportd {

namespace {

std::string to_hex(const unsigned char* md, unsigned len) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
  if (!ctx_) throw std::bad_alloc();
  reset();
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::reset() {
  EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  bytes_ = 0;
}

void Sha256::update(const void* data, std::size_t n) {
  EVP_DigestUpdate(ctx_.get(), data, n);
  bytes_ += n;
}

std::string Sha256::hex() const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_MD_CTX_copy_ex(copy.get(), ctx_.get());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy.get(), md, &len);
  return to_hex(md, len);
}

std::string content_digest(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(md, std::min(len, 8u));
}

}  // namespace exportd
