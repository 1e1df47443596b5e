#include "videos.hpp"

#include <cstring>
#include <memory>
#include <vector>

#include <openssl/evp.h>

namespace exportd::sim {

namespace {

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t seed_of(std::string_view id) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

void fill_video(std::string_view id, std::uint64_t offset, char* out, std::size_t n) {
  const auto seed = seed_of(id);
  std::size_t done = 0;
  while (done < n) {
    const auto pos = offset + done;
    const auto word = mix(seed ^ (pos / 8));
    unsigned char bytes[8];
    std::memcpy(bytes, &word, 8);
    const auto from = static_cast<std::size_t>(pos % 8);
    const auto take = std::min<std::size_t>(8 - from, n - done);
    std::memcpy(out + done, bytes + from, take);
    done += take;
  }
}

std::string video_sha256(std::string_view id, std::uint64_t size) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  for (std::uint64_t at = 0; at < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
    fill_video(id, at, buf.data(), n);
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    at += n;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string video_etag(std::string_view id, std::uint64_t size) {
  static constexpr char hex[] = "0123456789abcdef";
  auto h = mix(seed_of(id) ^ size);
  std::string tag = "\"v1-";
  for (int i = 0; i < 16; ++i, h >>= 4) tag += hex[h & 15];
  return tag + "\"";
}

}  // namespace exportd::sim
