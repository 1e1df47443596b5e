#include "videos.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "ops/digest.hpp"

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

namespace {

// A video is 64 KiB blocks: one pseudo-random block per id, each copy with
// its first 8 bytes replaced by a mix of the block's number. Cheap to make
// (a copy per block, so the simulator's own CPU stays out of download
// figures), and no two blocks alike, so a byte served from the wrong offset
// changes the SHA-256.
constexpr std::size_t block_bytes = 64 * 1024;

const std::vector<char>& base_block(std::string_view id) {
  thread_local std::string cached_id;
  thread_local std::vector<char> block;
  if (block.empty() || cached_id != id) {
    cached_id = std::string(id);
    block.resize(block_bytes);
    const auto seed = seed_of(id);
    for (std::size_t i = 0; i < block_bytes; i += 8) {
      const auto word = mix(seed ^ (i / 8));
      std::memcpy(block.data() + i, &word, 8);
    }
  }
  return block;
}

}  // namespace

void fill_video(std::string_view id, std::uint64_t offset, char* out, std::size_t n) {
  const auto& base = base_block(id);
  const auto seed = seed_of(id);
  std::size_t done = 0;
  while (done < n) {
    const auto pos = offset + done;
    const auto block = pos / block_bytes;
    const auto from = static_cast<std::size_t>(pos % block_bytes);
    const auto take = std::min<std::size_t>(block_bytes - from, n - done);
    std::memcpy(out + done, base.data() + from, take);
    // The block's own first 8 bytes.
    const auto tag = mix(seed ^ ~block);
    for (std::size_t i = from; i < 8 && i < from + take; ++i)
      out[done + (i - from)] = static_cast<char>(reinterpret_cast<const unsigned char*>(&tag)[i]);
    done += take;
  }
}

std::string video_sha256(std::string_view id, std::uint64_t size) {
  Sha256 hash;
  std::vector<char> buf(1 << 20);
  for (std::uint64_t at = 0; at < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
    fill_video(id, at, buf.data(), n);
    hash.update(buf.data(), n);
    at += n;
  }
  return hash.hex();
}

std::string video_etag(std::string_view id, std::uint64_t size) {
  static constexpr char hex[] = "0123456789abcdef";
  auto h = mix(seed_of(id) ^ size);
  std::string tag = "\"v1-";
  for (int i = 0; i < 16; ++i, h >>= 4) tag += hex[h & 15];
  return tag + "\"";
}

}  // namespace exportd::sim
