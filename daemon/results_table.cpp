#include "results_table.hpp"

#include <algorithm>
#include <fstream>
#include <vector>

#include <boost/json/parse.hpp>

#include "text/safe_text.hpp"

namespace exportd {

namespace {

std::string field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  return "";
}

// A cell as a terminal may show it: API text and job names are made safe
// (no escape sequences, valid UTF-8) and cut to the column.
std::string fit(const std::string& s, std::size_t width) { return bounded_text(s, width); }

}  // namespace

void print_results_table(const std::vector<std::string>& files, std::uint64_t offset, std::FILE* out,
                         std::size_t max_rows) {
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::size_t total = 0, gone = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    std::ifstream in(files[f]);
    if (!in) {
      ++gone;  // rotated and removed since (retention.results_keep)
      continue;
    }
    if (f == 0) in.seekg(static_cast<std::streamoff>(offset));
    while (std::getline(in, line)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      ++total;
      if (rows.size() >= max_rows) continue;
      const auto& o = v.as_object();
      // The video on disk when there is one, else the link.
      std::string detail =
          o.contains("file") ? field(o, "file") + " (" + field(o, "bytes") + " bytes)" : field(o, "download_url");
      if (const auto* e = o.if_contains("error"); e != nullptr && e->is_object())
        detail = field(e->as_object(), "code") + ": " + field(e->as_object(), "message");
      rows.push_back({field(o, "job"), field(o, "status"), field(o, "project_id"), field(o, "attempts"),
                      field(o, "requests"), detail});
    }
  }
  const std::vector<std::string> head{"JOB", "STATUS", "PROJECT", "EXPORTS", "CALLS", "RESULT"};
  std::vector<std::size_t> width(head.size());
  const std::vector<std::size_t> cap{40, 9, 26, 7, 5, 80};
  for (std::size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::min(cap[i], std::max(width[i], r[i].size()));
  auto print_row = [&](const std::vector<std::string>& r) {
    std::string s;
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::string cell = fit(r[i], cap[i]);
      if (i + 1 < r.size()) cell.resize(width[i], ' ');
      s += cell + (i + 1 < r.size() ? "  " : "");
    }
    std::fprintf(out, "%s\n", s.c_str());
  };
  if (gone > 0)
    std::fprintf(out, "(%zu results file(s) of this run were rotated and removed under retention.results_keep; "
                      "their lines are not shown)\n", gone);
  print_row(head);
  for (const auto& r : rows) print_row(r);
  if (total > rows.size()) std::fprintf(out, "... and %zu more in %s\n", total - rows.size(), files.back().c_str());
}

}  // namespace exportd
