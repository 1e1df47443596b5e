#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "engine/run_rules.hpp"

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

}  // namespace exportd
