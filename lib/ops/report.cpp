#include "ops/report.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "ops/time_format.hpp"
#include "ops/progress_line.hpp"
#include "ops/results.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace json = boost::json;

namespace {

// "20261206T020000Z-…": when the batch began.
std::optional<WallTime> batch_began(std::string_view batch) {
  if (batch.size() < 16 || batch[8] != 'T' || batch[15] != 'Z') return std::nullopt;
  std::tm tm{};
  const auto num = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (batch[i] < '0' || batch[i] > '9') return -1;
      v = v * 10 + (batch[i] - '0');
    }
    return v;
  };
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 || tm.tm_sec < 0)
    return std::nullopt;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

std::string h(std::string_view s) { return html_escaped(bounded_text(s, 2000)); }

double seconds(WallTime a, WallTime b) { return std::chrono::duration<double>(b - a).count(); }

std::string duration_text(double s) {
  char buf[64];
  if (s < 120)
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 7200)
    std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  return buf;
}

double quantile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

bool ended_well(const ReportJob& j) { return j.status == JobOutcome::succeeded; }

// The page's look: inline, so the file stands alone.
constexpr std::string_view style = R"(<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.scope{color:#5b6475;margin:0 0 16px}
.figures{display:flex;flex-wrap:wrap;gap:12px}
.figure{border:1px solid #d9dee8;border-radius:6px;padding:8px 14px;min-width:120px}
.figure b{display:block;font-size:20px}
.figure.bad b{color:#c0392b}
table{border-collapse:collapse;margin:4px 0}td,th{border-bottom:1px solid #e4e8ef;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f4f6fa}td.n{text-align:right}
svg text{font:11px system-ui,sans-serif;fill:#1d2330}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
</style>)";

constexpr std::string_view queued_colour = "#c9d1de", exporting_colour = "#3d7bd9", downloading_colour = "#41a8b8",
                           delivering_colour = "#8e5cc4", succeeded_colour = "#2e9e5b", failed_colour = "#c0392b";

struct Span {
  WallTime from{}, to{};
  double width() const { return seconds(from, to); }
};

// The night's span: from the first batch's start (or first submit) to the last end.
Span night_of(const std::vector<ReportJob>& jobs) {
  Span s{jobs.front().finished, jobs.front().finished};
  for (const auto& j : jobs) {
    s.from = std::min({s.from, j.queued.value_or(j.finished), j.submitted.value_or(j.finished)});
    s.to = std::max(s.to, j.finished);
  }
  if (s.to <= s.from) s.to = s.from + std::chrono::seconds(1);
  return s;
}

std::string legend() {
  std::string out = R"(<p class="legend">)";
  for (const auto& [colour, what] : {std::pair{queued_colour, "waiting to be sent"},
                                     std::pair{exporting_colour, "exporting"},
                                     std::pair{downloading_colour, "downloading"},
                                     std::pair{delivering_colour, "delivering"},
                                     std::pair{succeeded_colour, "succeeded"},
                                     std::pair{failed_colour, "failed or timed out"}})
    out += R"(<span><i style="background:)" + std::string(colour) + R"("></i>)" + what + "</span>";
  return out + "</p>\n";
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// A lane's name: the key whole when short, else its end (the id is what tells jobs apart).
std::string lane_label(std::string_view key) {
  constexpr std::size_t keep = 32;  // what fits the label column at 11 px
  if (key.size() <= keep) return std::string(key);
  auto from = key.size() - (keep - 1);
  while (from < key.size() && (static_cast<unsigned char>(key[from]) & 0xC0) == 0x80) ++from;  // a character's start
  return "…" + std::string(key.substr(from));
}

// One lane per job: waiting, exporting, and its end as a mark in its outcome's colour.
std::string lanes(const std::vector<ReportJob>& jobs, const ReportOptions& o) {
  const auto night = night_of(jobs);
  constexpr double label = 260, width = 900, lane = 14, top = 24;
  const double scale = width / night.width();
  const auto x = [&](WallTime t) { return label + seconds(night.from, t) * scale; };
  std::vector<const ReportJob*> order;
  for (const auto& j : jobs) order.push_back(&j);
  std::stable_sort(order.begin(), order.end(), [](const ReportJob* a, const ReportJob* b) {
    return a->submitted.value_or(a->finished) < b->submitted.value_or(b->finished);
  });
  const double height = top + lane * static_cast<double>(order.size()) + 8;
  std::string svg = R"(<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="one lane per job" id="timeline" width=")" +
                    fmt(label + width + 20) + R"(" height=")" + fmt(height) + R"(">)" + "\n";
  svg += R"(<text x=")" + fmt(label) + R"(" y="14">)" + h(o.local_time(night.from)) + "</text>";
  svg += R"(<text x=")" + fmt(label + width) + R"(" y="14" text-anchor="end">)" + h(o.local_time(night.to)) +
         "</text>\n";
  double y = top;
  for (const auto* j : order) {
    const bool good = ended_well(*j);
    svg += R"(<g class="lane" data-job=")" + h(j->job) + R"(" data-status=")" + h(to_string(j->status)) + R"("><title>)" +
           h(j->job) + " — " + h(to_string(j->status)) + (j->code.empty() ? "" : " (" + h(j->code) + ")") + ", ended " +
           h(o.local_time(j->finished)) + "</title>";
    svg += R"(<text x=")" + fmt(label - 6) + R"(" y=")" + fmt(y + 10) + R"(" text-anchor="end">)" +
           h(lane_label(j->job)) + "</text>";
    const auto end_x = x(j->finished);
    // Waiting until it was sent (or, never sent, until it ended).
    const auto sent = j->submitted.value_or(j->finished);
    if (j->queued && sent > *j->queued)
      svg += R"(<rect x=")" + fmt(x(*j->queued)) + R"(" y=")" + fmt(y + 2) + R"(" width=")" +
             fmt(std::max(1.0, x(sent) - x(*j->queued))) + R"(" height="10" fill=")" + std::string(queued_colour) +
             R"("/>)";
    // Exporting, then downloading (a video), then delivering, each until the next began or the job ended.
    const auto segment = [&](std::optional<WallTime> from, std::optional<WallTime> to, std::string_view colour,
                             const char* what) {
      if (!from) return;
      const auto until = to.value_or(j->finished);
      svg += R"(<rect class=")" + std::string(what) + R"(" x=")" + fmt(x(*from)) + R"(" y=")" + fmt(y + 2) +
             R"(" width=")" + fmt(std::max(1.0, x(until) - x(*from))) + R"(" height="10" fill=")" +
             std::string(colour) + R"("/>)";
    };
    const auto after_export = j->delivering ? j->delivering : std::optional<WallTime>{};
    segment(j->submitted, j->exported ? j->exported : after_export, exporting_colour, "exporting");
    if (j->exported && (!j->delivering || *j->delivering > *j->exported) && !j->file.empty())
      segment(j->exported, j->delivering, downloading_colour, "downloading");
    segment(j->delivering, std::nullopt, delivering_colour, "delivering");
    svg += R"(<rect x=")" + fmt(end_x - 2) + R"(" y=")" + fmt(y) + R"(" width="4" height="14" fill=")" +
           std::string(good ? succeeded_colour : failed_colour) + R"("/></g>)" + "\n";
    y += lane;
  }
  return svg + "</svg>\n";
}

// Past lanes_max jobs: per minute, how many were waiting, exporting, and ended well or badly, stacked.
std::string stacked(const std::vector<ReportJob>& jobs, const ReportOptions& o) {
  const auto night = night_of(jobs);
  const auto minutes = static_cast<std::size_t>(std::ceil(night.width() / 60.0));
  const std::size_t buckets = std::clamp<std::size_t>(minutes, 1, 24 * 60);
  const double bucket_s = night.width() / static_cast<double>(buckets);
  struct Counts {
    std::uint64_t waiting = 0, exporting = 0, good = 0, bad = 0;
  };
  std::vector<Counts> c(buckets);
  const auto index = [&](WallTime t) {
    return std::min(buckets - 1, static_cast<std::size_t>(std::max(0.0, seconds(night.from, t) / bucket_s)));
  };
  for (const auto& j : jobs) {
    const auto end = index(j.finished);
    const auto sent = j.submitted ? index(*j.submitted) : end;
    const auto start = j.queued ? index(*j.queued) : sent;
    for (auto b = start; b < sent; ++b) ++c[b].waiting;
    for (auto b = sent; b < end; ++b) ++c[b].exporting;
    ++(ended_well(j) ? c[end].good : c[end].bad);
  }
  std::uint64_t peak = 1;
  for (const auto& k : c) peak = std::max(peak, k.waiting + k.exporting + k.good + k.bad);
  constexpr double left = 60, width = 1000, height = 260, top = 24;
  const double bar = width / static_cast<double>(buckets);
  std::string svg = R"(<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="jobs per minute" id="timeline" width=")" +
                    fmt(left + width + 20) + R"(" height=")" + fmt(top + height + 24) + R"(">)" + "\n";
  svg += R"(<text x=")" + fmt(left) + R"(" y="14">)" + h(o.local_time(night.from)) + "</text>";
  svg += R"(<text x=")" + fmt(left + width) + R"(" y="14" text-anchor="end">)" + h(o.local_time(night.to)) +
         "</text>";
  svg += R"(<text x=")" + fmt(left - 6) + R"(" y=")" + fmt(top + 10) + R"(" text-anchor="end">)" +
         std::to_string(peak) + "</text>\n";
  for (std::size_t b = 0; b < buckets; ++b) {
    double y = top + height;
    svg += R"(<g class="minute">)";
    for (const auto& [n, colour] : {std::pair{c[b].bad, failed_colour}, std::pair{c[b].good, succeeded_colour},
                                    std::pair{c[b].exporting, exporting_colour},
                                    std::pair{c[b].waiting, queued_colour}}) {
      if (n == 0) continue;
      const double hgt = height * static_cast<double>(n) / static_cast<double>(peak);
      y -= hgt;
      svg += R"(<rect x=")" + fmt(left + bar * static_cast<double>(b)) + R"(" y=")" + fmt(y) + R"(" width=")" +
             fmt(std::max(0.5, bar - 0.5)) + R"(" height=")" + fmt(hgt) + R"(" fill=")" + std::string(colour) +
             R"("/>)";
    }
    svg += "</g>";
  }
  return svg + "\n</svg>\n";
}

}  // namespace

std::optional<ReportJob> report_job(const json::object& line) {
  ReportJob j;
  j.job = result_text(line, "job");
  const auto status = outcome_of(line);
  const auto finished = parse_rfc3339(result_text(line, "finished_at"));
  if (j.job.empty() || !status || !finished) return std::nullopt;
  j.status = *status;
  j.finished = *finished;
  j.batch = result_text(line, "batch");
  j.queued = batch_began(j.batch);
  j.submitted = parse_rfc3339(result_text(line, "submitted_at"));
  j.exported = parse_rfc3339(result_text(line, "exported_at"));
  j.delivering = parse_rfc3339(result_text(line, "delivering_at"));
  if (const auto* e = line.if_contains("error"); e != nullptr && e->is_object()) {
    j.code = result_text(e->as_object(), "code");
    j.message = result_text(e->as_object(), "message");
  }
  if (j.code.empty() && j.status == JobOutcome::timed_out) j.code = "timed_out";
  j.file = result_text(line, "file");
  j.bytes = result_count(line, "bytes");
  j.requests = static_cast<std::uint32_t>(result_count(line, "requests"));
  j.attempts = static_cast<std::uint32_t>(result_count(line, "attempts"));
  j.row = static_cast<std::uint32_t>(result_count(line, "row"));
  return j;
}

std::string_view what_to_do(std::string_view code) {
  static const std::map<std::string_view, std::string_view> advice{
      {"timed_out", "The export did not finish within polling.job_timeout. Check the project in AI Studios; if it "
                    "finished late, run the job file again (succeeded jobs are not exported again), or raise "
                    "polling.job_timeout."},
      {"download_failed", "The video could not be fetched and verified. The link is kept in the result: run the "
                          "job file again to download it (the export is not sent again), and check disk space and "
                          "download.max_bytes."},
      {"create_in_doubt", "A create may have made a project whose reply was lost, and the project list never "
                          "showed it. Look for the project by the [exportd-…] tag in its name before creating "
                          "it by hand."},
      {"job_file_changed", "The job file (or its rows CSV) changed while its batch ran. Check the projects named "
                           "in the message, then drop the corrected file again."},
      {"scenes_file", "The scenes file was missing, unreadable or broke the schema when the job was sent. Fix it "
                      "and drop the job again (exportd check shows the fault)."},
      {"template", "The template no longer fits the rows (it changed mid-batch). Fix it and run the rows that "
                   "failed again."},
      {"delivery_failed", "The delivery command kept failing; the video is on disk (see the result). Fix the "
                          "command or its target and run the job file again."},
      {"INVALID_PARAMETER", "The API refused the request as invalid. Check the job's fields and scenes against "
                            "the message."},
      {"PROJECT_NOT_FOUND", "The project id does not exist for this app. Check the job file's project_id."},
  };
  const auto it = advice.find(code);
  if (it != advice.end()) return it->second;
  return "See the message; each job's full line is in results.jsonl. A transient API fault that ran out of "
         "retries goes away by running the job file again.";
}

std::string render_report(const std::vector<ReportJob>& jobs, const ReportOptions& o) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + h(o.title) +
                    "</title>\n" + std::string(style) + "</head><body>\n";
  out += "<h1>" + h(o.title) + "</h1>\n<p class=\"scope\">" + h(o.scope) + " · written " + h(o.local_time(o.written)) +
         "</p>\n";
  if (jobs.empty()) return out + "<p id=\"nothing\">No job ended in this span.</p>\n</body></html>\n";

  std::uint64_t good = 0, failed = 0, timed_out = 0, requests = 0, videos = 0, bytes = 0;
  std::vector<double> export_s;
  for (const auto& j : jobs) {
    good += j.status == JobOutcome::succeeded;
    failed += j.status == JobOutcome::failed;
    timed_out += j.status == JobOutcome::timed_out;
    requests += j.requests;
    if (!j.file.empty()) {
      ++videos;
      bytes += j.bytes;
    }
    if (j.submitted) export_s.push_back(seconds(*j.submitted, j.finished));
  }
  const auto night = night_of(jobs);
  const auto figure = [](const std::string& value, const std::string& what, bool bad = false) {
    return std::string("<div class=\"figure") + (bad ? " bad" : "") + "\"><b>" + value + "</b>" + what + "</div>";
  };
  char per_job[32];
  std::snprintf(per_job, sizeof per_job, "%.2f", static_cast<double>(requests) / static_cast<double>(jobs.size()));
  out += "<h2>The figures</h2>\n<div class=\"figures\" id=\"figures\">";
  out += figure(std::to_string(jobs.size()), "jobs");
  out += figure(std::to_string(good), "succeeded");
  out += figure(std::to_string(failed), "failed", failed > 0);
  out += figure(std::to_string(timed_out), "timed out", timed_out > 0);
  out += figure(per_job, "API calls per job");
  out += figure(std::to_string(videos) + " · " + format_bytes(static_cast<double>(bytes)), "videos downloaded");
  out += figure(duration_text(night.width()), "from first start to last end");
  out += figure(duration_text(quantile(export_s, 0.5)) + " / " + duration_text(quantile(export_s, 0.95)),
                "submit to end, p50 / p95");
  out += "</div>\n";

  // Failures by reason, most first.
  std::map<std::string, std::vector<const ReportJob*>> reasons;
  for (const auto& j : jobs)
    if (!ended_well(j)) reasons[j.code.empty() ? "unknown" : j.code].push_back(&j);
  std::vector<std::pair<std::string, std::vector<const ReportJob*>>> by_count(reasons.begin(), reasons.end());
  std::stable_sort(by_count.begin(), by_count.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  out += "<h2>Failures by reason</h2>\n";
  if (by_count.empty()) {
    out += "<p id=\"failures\">None: every job succeeded.</p>\n";
  } else {
    out += "<table id=\"failures\"><tr><th>reason</th><th>jobs</th><th>what to do</th><th>for example</th></tr>\n";
    for (const auto& [code, list] : by_count) {
      std::string examples;
      for (std::size_t i = 0; i < list.size() && i < 3; ++i)
        examples += (i > 0 ? "<br>" : "") + h(list[i]->job) + (list[i]->message.empty() ? "" : ": " + h(bounded_text(list[i]->message, 200)));
      out += "<tr class=\"reason\"><td>" + h(code) + "</td><td class=\"n\">" + std::to_string(list.size()) +
             "</td><td>" + h(what_to_do(code)) + "</td><td>" + examples + "</td></tr>\n";
    }
    out += "</table>\n";
  }

  // The slowest exports, submit to end.
  std::vector<const ReportJob*> slow;
  for (const auto& j : jobs)
    if (j.submitted) slow.push_back(&j);
  std::stable_sort(slow.begin(), slow.end(), [](const ReportJob* a, const ReportJob* b) {
    return seconds(*a->submitted, a->finished) > seconds(*b->submitted, b->finished);
  });
  if (slow.size() > o.slowest) slow.resize(o.slowest);
  out += "<h2>The slowest exports</h2>\n<table id=\"slowest\"><tr><th>job</th><th>submit to end</th><th>ended</th>"
         "<th>status</th><th>API calls</th></tr>\n";
  for (const auto* j : slow)
    out += "<tr><td>" + h(j->job) + "</td><td class=\"n\">" + duration_text(seconds(*j->submitted, j->finished)) +
           "</td><td>" + h(o.local_time(j->finished)) + "</td><td>" + h(to_string(j->status)) + "</td><td class=\"n\">" +
           std::to_string(j->requests) + "</td></tr>\n";
  out += "</table>\n";

  out += "<h2>The night</h2>\n" + legend();
  out += jobs.size() <= o.lanes_max ? lanes(jobs, o) : stacked(jobs, o);
  return out + "</body></html>\n";
}

}  // namespace exportd
