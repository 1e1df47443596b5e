#include "spool/status.hpp"
#include <cerrno>
#include <cstring>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "jobs/job_file.hpp"
#include "ops/results.hpp"
#include "ops/progress_line.hpp"
#include "ops/retention.hpp"
#include "ops/time_format.hpp"
#include "spool/journal.hpp"
#include "spool/spool.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace fs = std::filesystem;
namespace json = boost::json;

Result<void> write_status_file(const std::string& path, const json::object& status) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return system_failure(errno, "cannot create " + tmp);
  const auto text = json::serialize(status) + "\n";
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !written) return system_failure(errno, "cannot write " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return system_failure(errno, "cannot replace " + path);
  return {};
}

namespace {

std::int64_t count_files(const std::string& dir, bool only_job_files) {
  std::int64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (!e.is_regular_file()) continue;
    if (only_job_files ? Spool::takes(name) : !Spool::is_error_note(name)) ++n;
  }
  return n;
}

}  // namespace

json::object spool_report(const std::string& state_dir, const JobDefaults& defaults, std::size_t recent_count) {
  const Spool spool(state_dir, Spool::Access::read);
  json::object report;
  report["state_dir"] = state_dir;
  report["files"] = json::object{{"incoming", count_files(spool.incoming(), true)},
                                 {"active", count_files(spool.active(), false)},
                                 {"done", count_files(spool.done(), false)},
                                 {"rejected", count_files(spool.rejected(), false)}};
  const auto rep = replay(Journal::read_all(spool.journal_path()));
  std::int64_t queued = 0, in_doubt = 0, polling = 0, downloading = 0, delivering = 0, succeeded = 0, failed = 0, timed_out = 0,
               open = 0;
  std::int64_t oldest_ms = 0;
  std::string oldest_job;
  for (const auto& b : rep.batches) {
    if (b.closed) continue;
    ++open;
    const auto specs =
        load_job_file(spool.snapshot(b.header.batch), defaults, {b.header.name, b.header.base_dir, {}, {}});
    if (specs) {
      for (const auto& s : *specs) queued += b.jobs.count(s.key) == 0;
    }
    for (const auto& [key, job] : b.jobs) {
      switch (job.state) {
        case Recovery::fresh:
          ++queued;
          break;
        case Recovery::in_doubt:
          ++in_doubt;
          break;
        case Recovery::delivering:
          ++delivering;
          break;
        case Recovery::downloading:
        case Recovery::submitted:
          ++(job.state == Recovery::submitted ? polling : downloading);
          if (oldest_ms == 0 || job.submitted_at_ms < oldest_ms) {
            oldest_ms = job.submitted_at_ms;
            oldest_job = b.header.batch + "/" + key;
          }
          break;
        case Recovery::ended: {
          const auto* s = job.result.if_contains("status");
          const auto status = s && s->is_string() ? job_outcome_from(s->as_string()) : std::nullopt;
          if (status == JobOutcome::succeeded)
            ++succeeded;
          else if (status == JobOutcome::timed_out)
            ++timed_out;
          else
            ++failed;
          break;
        }
      }
    }
  }
  report["open_batches"] = open;
  report["jobs"] = json::object{{"queued", queued},           {"submitting", in_doubt}, {"polling", polling},
                                {"downloading", downloading}, {"delivering", delivering}, {"succeeded", succeeded}, {"failed", failed},
                                {"timed_out", timed_out}};
  if (oldest_ms > 0) {
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    report["oldest_active"] = json::object{
        {"job", oldest_job},
        {"submitted_at", rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(oldest_ms)))},
        {"age_seconds", (now_ms - oldest_ms) / 1000}};
  }
  boost::system::error_code ec;
  auto daemon = json::parse(read_file(spool.status_path()), ec);
  if (!ec && daemon.is_object()) report["daemon"] = daemon.as_object();
  json::array recent;
  for (const auto& b : recent_batches(spool, recent_count)) recent.push_back(to_json(b));
  report["recent_batches"] = std::move(recent);
  return report;
}

std::vector<BatchSummary> recent_batches(const Spool& spool, std::size_t n) {
  // results.jsonl, then the rotated files newest first, until one more batch
  // than asked for has shown up (so the n-th is whole unless it spans
  // files); at most 4 files, so the morning read stays quick.
  std::vector<std::string> files{spool.results_path()};
  auto rotated = rotated_results_in(spool.root());
  for (auto it = rotated.rbegin(); it != rotated.rend() && files.size() < 4; ++it)
    files.push_back(spool.root() + "/" + *it);
  BatchSummaries summaries;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    while (std::getline(in, line))
      if (line.size() <= 1024 * 1024) summaries.add_line(line);
    if (summaries.batches() > n) break;
  }
  return summaries.latest(n);
}

std::string format_spool_report(const json::object& r) {
  auto num = [](const json::value& v) { return std::to_string(v.is_int64() ? v.as_int64() : 0); };
  const auto& f = r.at("files").as_object();
  const auto& j = r.at("jobs").as_object();
  std::string out = "state_dir: " + std::string(r.at("state_dir").as_string()) + "\n";
  out += "files:     " + num(f.at("incoming")) + " incoming, " + num(f.at("active")) + " active, " + num(f.at("done")) +
         " done, " + num(f.at("rejected")) + " rejected\n";
  out += "open:      " + num(j.at("queued")) + " queued, " + num(j.at("submitting")) + " submitting, " +
         num(j.at("polling")) + " polling, " + num(j.at("downloading")) + " downloading, " + num(j.at("delivering")) + " delivering, " + num(j.at("succeeded")) +
         " succeeded, " + num(j.at("failed")) + " failed, " + num(j.at("timed_out")) + " timed out, in " +
         num(r.at("open_batches")) + " open batches\n";
  if (const auto* o = r.if_contains("oldest_active"))
    out += "oldest:    " + std::string(o->at("job").as_string()) + " submitted " +
           std::string(o->at("submitted_at").as_string()) + "\n";
  if (const auto* d = r.if_contains("daemon"); d != nullptr && d->is_object()) {
    const auto& o = d->as_object();
    auto s = [&](std::string_view k) {
      const auto* v = o.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : std::string("-");
    };
    out += "daemon:    " + s("state") + " (pid " + (o.contains("pid") ? num(o.at("pid")) : "-") + ", updated " +
           s("updated_at") + ")\n";
    if (const auto* dl = o.if_contains("downloads"); dl != nullptr && dl->is_object()) {
      const auto& d = dl->as_object();
      const auto n = [&](std::string_view k) {
        const auto* v = d.if_contains(k);
        return v != nullptr && v->is_number() ? v->to_number<double>() : 0.0;
      };
      if (n("in_progress") > 0 || n("bytes") > 0)
        out += "downloads: " + std::to_string(static_cast<std::uint64_t>(n("in_progress"))) + " in progress, " +
               format_bytes(n("bytes_per_second")) + "/s, " + format_bytes(n("bytes")) + " since start" +
               (n("paused_disk_full") > 0 ? "; " + std::to_string(static_cast<std::uint64_t>(n("paused_disk_full"))) +
                                                " paused: download.dir is full"
                                          : "") +
               "\n";
    }
    if (const auto* e = o.if_contains("last_error"); e != nullptr && e->is_string() && !e->as_string().empty())
      out += "last error: " + std::string(e->as_string()) + "\n";
  }
  if (const auto* rb = r.if_contains("recent_batches"); rb != nullptr && rb->is_array())
    out += format_recent_batches(rb->as_array());
  return out;
}

std::string format_recent_batches(const json::array& batches) {
  if (batches.empty()) return "recent batches: none in the results files\n";
  auto str = [](const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string("-");
  };
  auto num = [](const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v != nullptr && v->is_number() ? v->to_number<std::uint64_t>() : std::uint64_t{0};
  };
  std::string out = "recent batches (newest first):\n";
  char line[512];
  std::snprintf(line, sizeof line, "  %-32s %-20s %-20s %5s %9s %6s %9s  %s\n", "JOB FILE", "STARTED", "ENDED", "JOBS",
                "SUCCEEDED", "FAILED", "TIMED OUT", "VIDEOS");
  out += line;
  for (const auto& v : batches) {
    if (!v.is_object()) continue;
    const auto& b = v.as_object();
    std::string videos = "-";
    if (const auto* d = b.if_contains("downloads"); d != nullptr && d->is_object() && num(d->as_object(), "files") > 0)
      videos = std::to_string(num(d->as_object(), "files")) + " (" +
               format_bytes(static_cast<double>(num(d->as_object(), "bytes"))) + ")";
    const auto when = [&](std::string_view k) {
      auto t = str(b, k);
      if (t.size() >= 19) t = t.substr(0, 10) + " " + t.substr(11, 8);  // to the second, in UTC
      return t;
    };
    std::snprintf(line, sizeof line, "  %-32s %-20s %-20s %5llu %9llu %6llu %9llu  %s\n",
                  bounded_text(str(b, "file"), 32).c_str(), when("started_at").c_str(), when("ended_at").c_str(),
                  static_cast<unsigned long long>(num(b, "jobs")), static_cast<unsigned long long>(num(b, "succeeded")),
                  static_cast<unsigned long long>(num(b, "failed")),
                  static_cast<unsigned long long>(num(b, "timed_out")), videos.c_str());
    out += line;
    if (const auto* f = b.if_contains("failures"); f != nullptr && f->is_object() && !f->as_object().empty()) {
      std::string codes;
      for (const auto& [code, n] : f->as_object())
        codes += (codes.empty() ? "" : ", ") + std::string(code) + " " +
                 std::to_string(n.is_number() ? n.to_number<std::uint64_t>() : 0);
      out += "      failures: " + codes + "\n";
    }
  }
  return out;
}

}  // namespace exportd
