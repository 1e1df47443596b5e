// Fuzz target: the journal parser (decode, replay, compact). Properties:
// replay never throws; every record compaction keeps encodes to a line that
// decodes again; replaying the compacted journal gives the same open batches.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "spool/journal_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace exportd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)decode(text.substr(0, text.find('\n')));
  const auto replayed = replay(text);
  const auto kept = compact(replayed);
  std::string again;
  for (const auto& r : kept) {
    const auto line = encode(r);
    if (!decode(line)) std::abort();  // the daemon could not read back what it wrote
    again += line + "\n";
  }
  const auto second = replay(again);
  std::size_t open = 0;
  for (const auto& b : replayed.batches) open += !b.closed;
  if (second.batches.size() != open || second.bad_lines != 0) std::abort();
  return 0;
}
