#include "ops/batch_summary.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>

#include "ops/results.hpp"
#include "ops/time_format.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace json = boost::json;

namespace {


constexpr std::size_t max_codes = 20;

}  // namespace

std::string name_from_batch_id(const std::string& id) {
  const auto a = id.find('-');
  const auto b = a == std::string::npos ? a : id.find('-', a + 1);
  return b == std::string::npos ? id : id.substr(b + 1);
}

void BatchSummaries::add(const json::object& line) {
  const auto outcome = outcome_of(line);
  if (!outcome) return;
  // A batch id is ours (a stamp and a file name), but a results file is
  // outside input: bounded before it is kept or shown.
  auto& s = by_batch_[bounded_text(result_text(line, "batch"), 200)];
  if (s.batch.empty()) s.batch = bounded_text(result_text(line, "batch"), 200);
  switch (*outcome) {
    case JobOutcome::succeeded:
      ++s.succeeded;
      break;
    case JobOutcome::failed:
      ++s.failed;
      break;
    case JobOutcome::timed_out:
      ++s.timed_out;
      break;
  }
  if (*outcome != JobOutcome::succeeded) {
    std::string code = "timed_out";
    if (const auto* e = line.if_contains("error"); e != nullptr && e->is_object())
      code = bounded_text(result_text(e->as_object(), "code"), 60);
    if (code.empty()) code = "unknown";
    if (s.failures.size() >= max_codes && s.failures.count(code) == 0) code = "other";
    ++s.failures[code];
  }
  if (line.contains("file")) {
    ++s.videos;
    s.video_bytes += result_count(line, "bytes");
  }
  s.requests += result_count(line, "requests");
  if (auto t = parse_rfc3339(result_text(line, "submitted_at")); t && (!s.started || *t < *s.started)) s.started = t;
  if (auto t = parse_rfc3339(result_text(line, "finished_at")); t && (!s.ended || *t > *s.ended)) s.ended = t;
}

void BatchSummaries::add_line(std::string_view line) {
  boost::system::error_code ec;
  auto v = json::parse(line, ec);
  if (!ec && v.is_object()) add(v.as_object());
}

std::vector<BatchSummary> BatchSummaries::latest(std::size_t n) const {
  std::vector<BatchSummary> all;
  all.reserve(by_batch_.size());
  for (const auto& [id, s] : by_batch_) all.push_back(s);
  const auto newer = [](const BatchSummary& a, const BatchSummary& b) {
    const auto ta = a.ended.value_or(std::chrono::system_clock::time_point{});
    const auto tb = b.ended.value_or(std::chrono::system_clock::time_point{});
    return ta != tb ? ta > tb : a.batch > b.batch;
  };
  const auto keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), newer);
  all.resize(keep);
  return all;
}

json::object to_json(const BatchSummary& s) {
  json::object o;
  o["batch"] = s.batch;
  o["file"] = name_from_batch_id(s.batch);
  o["started_at"] = s.started ? json::value(rfc3339(*s.started)) : json::value(nullptr);
  o["ended_at"] = s.ended ? json::value(rfc3339(*s.ended)) : json::value(nullptr);
  o["jobs"] = s.jobs();
  o["succeeded"] = s.succeeded;
  o["failed"] = s.failed;
  o["timed_out"] = s.timed_out;
  json::object failures;
  for (const auto& [code, n] : s.failures) failures[code] = n;
  o["failures"] = std::move(failures);
  o["downloads"] = json::object{{"files", s.videos}, {"bytes", s.video_bytes}};
  o["requests"] = s.requests;
  return o;
}

}  // namespace exportd
