#include "text/csv.hpp"

#include "text/safe_text.hpp"

namespace exportd {

namespace {

constexpr std::size_t max_problems = 20;

// Collects FILE:LINE:COL problems, the first few in full.
class Problems {
 public:
  explicit Problems(const std::string& file) : file_(file) {}
  void add(std::uint32_t line, std::uint32_t column, std::string_view what) {
    if (++count_ == max_problems + 1) hidden_at_ = std::to_string(line) + ":" + std::to_string(column);
    if (count_ > max_problems) return;
    text_ += file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + std::string(what) + "\n";
  }
  bool any() const { return count_ > 0; }
  Failure failure() const {
    std::string out = text_;
    if (count_ > max_problems)
      out += file_ + ":" + hidden_at_ + ": and " + std::to_string(count_ - max_problems) +
             " more problems from here on, not shown\n";
    out.pop_back();
    return Failure{Errc::invalid_input, out};
  }

 private:
  const std::string& file_;
  std::string text_;
  std::size_t count_ = 0;
  std::string hidden_at_;  // LINE:COL of the first problem not shown
};

// Reads the text a byte at a time, keeping the line and the column (in code points).
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return at_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const { return at_ + ahead < text_.size() ? text_[at_ + ahead] : '\0'; }
  void next() {
    const char c = text_[at_++];
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++column_;  // a code point's first byte (continuation bytes do not move the column)
    }
  }
  // A line break here (CRLF or LF): consumed, true.
  bool line_break() {
    if (peek() == '\r' && peek(1) == '\n') {
      next();
      next();
      return true;
    }
    if (peek() == '\n') {
      next();
      return true;
    }
    return false;
  }
  std::uint32_t line() const { return line_; }
  std::uint32_t column() const { return column_; }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
};

}  // namespace

Result<CsvTable> read_csv(std::string_view text, const std::string& file, const CsvLimits& limits) {
  Problems problems(file);
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a BOM: not part of the first name
  if (!is_utf8(text)) {
    // Where: the first line that is not UTF-8.
    std::uint32_t line = 1;
    std::size_t start = 0;
    for (std::size_t end = 0; end <= text.size(); ++end) {
      if (end == text.size() || text[end] == '\n') {
        if (!is_utf8(text.substr(start, end - start))) break;
        ++line;
        start = end + 1;
      }
    }
    problems.add(line, 1, "this line is not valid UTF-8 text: save the file as UTF-8");
    return problems.failure();
  }
  CsvTable table;
  Cursor c(text);
  std::vector<CsvCell> row;
  bool too_many = false;
  const auto end_row = [&](std::uint32_t line) {
    if (table.header.empty()) {
      table.header = std::move(row);
      for (std::size_t i = 0; i < table.header.size(); ++i) {
        const auto& h = table.header[i];
        if (h.text.empty()) problems.add(h.line, h.column, "a column without a name in the first line");
        for (std::size_t j = 0; j < i; ++j)
          if (table.header[j].text == h.text && !h.text.empty())
            problems.add(h.line, h.column, "column '" + bounded_text(h.text, 80) + "' is named twice");
      }
    } else if (row.size() == 1 && row[0].text.empty() && row[0].column == 1) {
      // An empty line: not a row.
    } else {
      if (row.size() != table.header.size())
        problems.add(line, 1,
                     "this row has " + std::to_string(row.size()) + " cells and the first line names " +
                         std::to_string(table.header.size()) + " columns");
      if (table.rows.size() >= limits.max_rows) {
        if (!too_many)
          problems.add(line, 1, "more than " + std::to_string(limits.max_rows) + " rows (limits.max_rows)");
        too_many = true;
      } else {
        table.rows.push_back(std::move(row));
      }
    }
    row.clear();
  };
  std::uint32_t row_line = 1;  // where the row being read began
  while (!c.done()) {
    CsvCell cell{{}, c.line(), c.column()};
    if (row.empty()) row_line = cell.line;
    bool oversize = false;
    const auto append = [&](char ch) {
      if (cell.text.size() < limits.max_cell_bytes)
        cell.text += ch;
      else
        oversize = true;
    };
    if (c.peek() == '"') {
      c.next();
      bool closed = false;
      while (!c.done()) {
        if (c.peek() == '"') {
          if (c.peek(1) == '"') {
            append('"');
            c.next();
            c.next();
            continue;
          }
          c.next();
          closed = true;
          break;
        }
        append(c.peek());
        c.next();
      }
      if (!closed) {
        problems.add(cell.line, cell.column, "this quoted cell is never closed (a '\"' is missing)");
        return problems.failure();  // the rest of the file is inside it: nothing more can be said
      }
      if (!c.done() && c.peek() != ',' && c.peek() != '\r' && c.peek() != '\n') {
        problems.add(c.line(), c.column(),
                     "text after a quoted cell's closing quote (write a '\"' inside quotes as '\"\"')");
        while (!c.done() && c.peek() != ',' && c.peek() != '\n') c.next();
      }
    } else {
      while (!c.done() && c.peek() != ',' && c.peek() != '\n' && !(c.peek() == '\r' && c.peek(1) == '\n')) {
        if (c.peek() == '"')
          problems.add(c.line(), c.column(),
                       "a '\"' inside a cell that is not quoted: quote the cell and double the '\"'");
        append(c.peek());
        c.next();
      }
    }
    if (oversize)
      problems.add(cell.line, cell.column,
                   "this cell is over " + std::to_string(limits.max_cell_bytes / 1024) + " KiB");
    row.push_back(std::move(cell));
    if (c.peek() == ',') {
      c.next();
      if (c.done()) row.push_back({{}, c.line(), c.column()});  // a trailing comma: one more, empty cell
      continue;
    }
    c.line_break();
    end_row(row_line);
  }
  if (!row.empty()) end_row(row_line);  // the last row, after a trailing comma at the very end
  if (table.header.empty()) problems.add(1, 1, "the file is empty: its first line must name the columns");
  if (problems.any()) return problems.failure();
  return table;
}

}  // namespace exportd
