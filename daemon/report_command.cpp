// exportd report: the morning report (SPEC §14) from what state_dir holds —
// results.jsonl and the files rotated from it — written as one HTML page.
// Reads only: safe beside a running daemon, and on a stopped one.

#include <ctime>
#include <fstream>
#include <iostream>

#include <boost/json/parse.hpp>

#include "commands.hpp"
#include "ops/durable_write.hpp"
#include "ops/report.hpp"
#include "ops/results.hpp"
#include "ops/retention.hpp"
#include "spool/spool.hpp"
#include "time/duration.hpp"

namespace exportd {

namespace {

// A time as the operator reads it: the machine's zone (TZ), named.
std::string local_time(WallTime t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

}  // namespace

std::vector<ReportJob> report_jobs(const std::string& state_dir, const ReportScope& scope) {
  const Spool spool(state_dir, Spool::Access::read);
  std::vector<std::string> files;
  for (const auto& name : rotated_results_in(spool.root())) files.push_back(spool.root() + "/" + name);
  files.push_back(spool.results_path());
  std::vector<ReportJob> jobs;
  std::string line;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    while (std::getline(in, line)) {
      if (line.size() > 1024 * 1024) continue;
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      auto job = report_job(v.as_object());
      if (!job) continue;
      if (scope.since && job->finished < *scope.since) continue;
      if (!scope.batch.empty() && job->batch != scope.batch) continue;
      jobs.push_back(std::move(*job));
    }
  }
  return jobs;
}

Result<void> write_report(const std::string& state_dir, const ReportScope& scope, const std::string& out) {
  ReportOptions o;
  o.scope = scope.what;
  o.local_time = local_time;
  o.written = std::chrono::system_clock::now();
  const auto page = render_report(report_jobs(state_dir, scope), o);
  if (out.empty()) {  // no -o: standard output
    std::cout << page;
    return {};
  }
  try {
    write_file_durably(out, page);
  } catch (const std::exception& e) {
    return Failure{Errc::write_failed, "cannot write the report to " + out + ": " + e.what()};
  }
  return {};
}

int report_command(const std::string& config_path, const std::string& since, const std::string& batch,
                   const std::string& out) {
  auto config = load_config_or_report(config_path);
  if (!config) return exit_usage;
  ReportScope scope;
  if (!batch.empty()) {
    scope.batch = batch;
    scope.what = "batch " + batch;
  } else {
    const auto span = parse_duration(since.empty() ? "24h" : since);
    if (!span) {
      std::cerr << "exportd report: --since '" << since << "' is not a duration such as 24h or 90m\n";
      return exit_usage;
    }
    scope.since = std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(*span);
    scope.what = "jobs that ended in the last " + (since.empty() ? std::string("24h") : since);
  }
  if (auto r = write_report(config->state_dir, scope, out); !r) {
    std::cerr << "exportd report: " << r.error().message << "\n";
    return exit_temporary;
  }
  if (!out.empty()) std::cerr << "exportd report: written to " << out << "\n";
  return exit_ok;
}

}  // namespace exportd
