#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace exportd {

// Exit codes of SPEC §2.
enum ExitCode : int {
  exit_ok = 0,            // success (with --once: every job succeeded)
  exit_jobs_failed = 1,   // with --once: a job failed or timed out
  exit_usage = 2,         // usage, or an invalid config or job file
  exit_credentials = 3,   // the API refused the credentials
  exit_temporary = 75,    // EX_TEMPFAIL: unreachable API, unwritable state_dir, interrupted
};

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

}  // namespace exportd
