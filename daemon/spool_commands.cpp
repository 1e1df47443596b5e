// exportd submit and exportd status: they work beside a running daemon,
// through the spool's files only.

#include <filesystem>
#include <iostream>

#include <boost/json/serialize.hpp>

#include "commands.hpp"
#include "config/config.hpp"
#include "jobs/job_file.hpp"
#include "spool/journal.hpp"
#include "spool/spool.hpp"
#include "spool/status.hpp"

namespace exportd {

namespace fs = std::filesystem;

int submit_command(const std::string& config_path, const std::vector<std::string>& job_files) {
  auto config = load_config_or_report(config_path);
  if (!config) return exit_usage;
  if (job_files.empty()) {
    std::cerr << "exportd submit: name at least one job file\n";
    return exit_usage;
  }
  std::optional<Spool> spool;
  try {
    spool.emplace(config->state_dir);
  } catch (const std::exception& e) {
    std::cerr << "exportd submit: " << e.what() << "\n";
    return exit_temporary;
  }
  int rc = exit_ok;
  for (const auto& file : job_files) {
    const auto name = fs::path(file).filename().string();
    if (!Spool::takes(name)) {
      std::cerr << file << ":1:1: the drop folder takes *.yaml or *.yml files only\n";
      rc = exit_usage;
      continue;
    }
    // Relative scenes_file paths resolve against incoming/, where the file will live.
    auto jobs = load_job_file(file, config->defaults, drop_file_origin(name, spool->incoming(), config->defaults));
    if (!jobs) {
      std::cerr << jobs.error().message << "\n";
      rc = exit_usage;
      continue;
    }
    std::string target = spool->incoming() + "/" + name;
    for (int i = 2; fs::exists(target); ++i)
      target = spool->incoming() + "/" + fs::path(name).stem().string() + "-" + std::to_string(i) +
               fs::path(name).extension().string();
    try {
      // Written under a dot-name the watcher ignores, then renamed into place whole.
      const auto tmp = spool->incoming() + "/." + fs::path(target).filename().string() + ".tmp";
      write_file_durably(tmp, read_file(file));
      fs::rename(tmp, target);
      sync_directory(spool->incoming());
    } catch (const std::exception& e) {
      std::cerr << "exportd submit: " << e.what() << "\n";
      return exit_temporary;
    }
    std::cout << file << ": " << jobs->size() << " job(s) submitted as " << target << "\n";
  }
  return rc;
}

int status_command(const std::string& config_path, bool as_json) {
  auto config = load_config_or_report(config_path);
  if (!config) return exit_usage;
  const auto report = spool_report(config->state_dir, config->defaults);
  if (as_json)
    std::cout << boost::json::serialize(report) << "\n";
  else
    std::cout << format_spool_report(report);
  return exit_ok;
}

}  // namespace exportd
