// Fuzz target: the CSV reader of a personalized batch (SPEC §12).
// Properties: it never crashes or hangs; what it reads has every row as
// long as the header, no cell over the limit, no more rows than the limit,
// and every cell's line and column inside the text; what it refuses says
// where, one FILE:LINE:COL line per problem, at most 20 and a count.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "text/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace exportd;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  CsvLimits limits;
  limits.max_cell_bytes = 64;
  limits.max_rows = 16;
  const auto r = read_csv(in, "f.csv", limits);
  if (!r) {
    const auto& why = r.error().message;
    if (why.rfind("f.csv:", 0) != 0) std::abort();
    std::size_t lines = 1;
    for (char c : why) lines += c == '\n';
    if (lines > 21) std::abort();
    return 0;
  }
  std::size_t newlines = 0;
  for (char c : in) newlines += c == '\n';
  if (r->header.empty() || r->rows.size() > limits.max_rows) std::abort();
  for (const auto& row : r->rows) {
    if (row.size() != r->header.size()) std::abort();
    for (const auto& cell : row)
      if (cell.text.size() > limits.max_cell_bytes || cell.line == 0 || cell.line > newlines + 1 || cell.column == 0)
        std::abort();
  }
  return 0;
}
