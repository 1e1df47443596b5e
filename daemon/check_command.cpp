#include <iostream>

#include "commands.hpp"
#include "config/config.hpp"
#include "jobs/job_file.hpp"
#include "preflight.hpp"

namespace exportd {

std::optional<Config> load_config_or_report(const std::string& path) {
  auto config = load_config(path);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return std::nullopt;
  }
  return std::move(*config);
}

int check_command(const std::string& config_path, const std::vector<std::string>& job_files) {
  auto config = load_config_or_report(config_path);
  if (!config) return exit_usage;
  // What run checks at start, from the same place (preflight.hpp).
  const auto checked = preflight(*config, PreflightFor::check);
  for (const auto& p : checked.config_problems) std::cerr << p << "\n";
  for (const auto& p : checked.folder_problems) std::cerr << p << "\n";
  for (const auto& n : checked.notes) std::cerr << n << "\n";
  std::vector<std::string> files = config->queue_files;
  files.insert(files.end(), job_files.begin(), job_files.end());
  std::size_t ok = 0, rejected = 0, jobs = 0;
  for (const auto& f : files) {
    if (auto specs = load_job_file(f, config->defaults)) {
      ++ok;
      jobs += specs->size();
    } else {
      std::cerr << specs.error().message << "\n";
      ++rejected;
    }
  }
  if (checked.ok()) std::cout << config_path << ": ok\n";
  if (!files.empty()) std::cout << ok << " job file(s) ok with " << jobs << " job(s), " << rejected << " rejected\n";
  return rejected == 0 && checked.ok() ? exit_ok : exit_usage;
}

}  // namespace exportd
