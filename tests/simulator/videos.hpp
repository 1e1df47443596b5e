#pragma once

// The videos the simulator serves (SPEC §10): generated from the project id,
// never stored, so a 1 GiB video costs no memory and any byte range can be
// made on demand. Tests use the same functions to know what a downloaded
// file must hold.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace exportd::sim {

// Fills out[0, n) with the bytes of `id`'s video from `offset` on.
void fill_video(std::string_view id, std::uint64_t offset, char* out, std::size_t n);

// SHA-256 (hex) of the first `size` bytes of `id`'s video.
std::string video_sha256(std::string_view id, std::uint64_t size);

// The strong validator the simulator serves for `id`'s video of `size` bytes.
std::string video_etag(std::string_view id, std::uint64_t size);

}  // namespace exportd::sim
