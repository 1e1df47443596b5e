#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace exportd {

// SHA-256 of a stream of bytes (OpenSSL EVP), fed piece by piece. It
// counts what it was fed, so a digest is never taken for a file it does not
// cover (bytes() against the file's size).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, std::size_t n);
  // The digest of everything fed so far, as 64 hex digits; the stream may go on.
  std::string hex() const;
  // How many bytes the digest covers.
  std::uint64_t bytes() const { return bytes_; }
  void reset();

 private:
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> ctx_;
  std::uint64_t bytes_ = 0;
};

// A short hex SHA-256 of `text` (16 hex digits): recognises a queue file or
// a claimed job file seen before, and tags a create job's project name.
std::string content_digest(const std::string& text);

}  // namespace exportd
