#pragma once

// RFC 4180 CSV as a personalized batch's rows come in (SPEC §12): UTF-8 (a
// BOM allowed and dropped), CRLF or LF, fields quoted with '"' holding
// commas, doubled quotes and line breaks; the first row names the columns.
// Read whole into cells that each know the line and column they began at,
// so every later problem with a cell is reported at FILE:LINE:COL. A file
// with any problem is refused whole, each problem on its own line (the
// first 20, then how many more).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error/error.hpp"

namespace exportd {

struct CsvCell {
  std::string text;
  std::uint32_t line = 0;    // 1-based, where the cell began (its quote, if quoted)
  std::uint32_t column = 0;  // 1-based, in characters (UTF-8 code points)
};

struct CsvTable {
  std::vector<CsvCell> header;             // the column names
  std::vector<std::vector<CsvCell>> rows;  // each as long as the header
};

struct CsvLimits {
  std::size_t max_cell_bytes = 64 * 1024;
  std::size_t max_rows = 100'000;  // limits.max_rows; the header aside
};

// `file` names the file in messages. Errc::invalid_input with one
// FILE:LINE:COL line per problem.
Result<CsvTable> read_csv(std::string_view text, const std::string& file, const CsvLimits& limits = {});

}  // namespace exportd
