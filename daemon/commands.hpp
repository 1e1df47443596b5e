#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "engine/run_rules.hpp"
#include "ops/report.hpp"

namespace exportd {

struct RunOptions {
  std::string config;
  bool once = false;
  bool fresh = false;  // queue files start new batches even if one is open
  std::vector<std::string> queues;
};

// Loads the config, printing its problems to stderr as FILE:LINE:COL lines.
std::optional<Config> load_config_or_report(const std::string& path);

int check_command(const std::string& config, const std::vector<std::string>& job_files);
int run_command(const RunOptions& options);
int submit_command(const std::string& config, const std::vector<std::string>& job_files);
int status_command(const std::string& config, bool json);

// What a report covers: the jobs that ended since a moment, or one batch's.
struct ReportScope {
  std::optional<std::chrono::system_clock::time_point> since;
  std::string batch;
  std::string what;  // as the page names it
};
// The jobs of `scope` from state_dir's results files (rotated ones first).
std::vector<ReportJob> report_jobs(const std::string& state_dir, const ReportScope& scope);
// Writes the report of `scope` to `out` (durably; "": standard output).
Result<void> write_report(const std::string& state_dir, const ReportScope& scope, const std::string& out);
int report_command(const std::string& config, const std::string& since, const std::string& batch,
                   const std::string& out);

}  // namespace exportd
