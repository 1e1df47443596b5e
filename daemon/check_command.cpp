#include <iostream>

#include "batch_files.hpp"
#include "commands.hpp"
#include "config/config.hpp"

namespace exportd {

int check_command(const std::string& config_path, const std::vector<std::string>& job_files) {
  Diagnostics diags(config_path);
  auto config = load_config(config_path, diags);
  if (!config) {
    std::cerr << diags.str();
    return exit_usage;
  }
  std::vector<std::string> files = config->queue_files;
  files.insert(files.end(), job_files.begin(), job_files.end());
  const auto batch = load_job_files(files, config->defaults);
  std::cout << config_path << ": ok\n";
  if (!files.empty())
    std::cout << batch.files_ok << " job file(s) ok with " << batch.jobs.size() << " job(s), " << batch.files_rejected
              << " rejected\n";
  return batch.files_rejected == 0 ? exit_ok : exit_usage;
}

}  // namespace exportd
