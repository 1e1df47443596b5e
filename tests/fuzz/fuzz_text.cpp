// Fuzz target: the text guards every outside string goes through.
// Properties: to_utf8 yields UTF-8 and leaves UTF-8 alone; bounded_text
// yields UTF-8 with no control characters within its bound.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "text/safe_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace exportd;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto fixed = to_utf8(in);
  if (!is_utf8(fixed) || (is_utf8(in) && fixed != in)) std::abort();
  const std::size_t bound = size > 0 ? data[0] : 0;
  const auto b = bounded_text(in, bound);
  if (b.size() > bound || !is_utf8(b) || has_control(b)) std::abort();
  const auto t = terminal_safe(in);
  if (!is_utf8(t) || has_control(t)) std::abort();
  std::string r(in);
  redact(r, in.substr(0, size / 2));
  return 0;
}
