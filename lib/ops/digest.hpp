#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace exportd {

// SHA-256 of a stream of bytes (OpenSSL EVP), fed piece by piece.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, std::size_t n);
  // The digest of everything fed so far, as 64 hex digits; the stream may go on.
  std::string hex() const;
  void reset();

 private:
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> ctx_;
};

// A short hex SHA-256 of `text` (16 hex digits): recognises a queue file or
// a claimed job file seen before, and tags a create job's project name.
std::string content_digest(const std::string& text);

}  // namespace exportd
