#include "batch_files.hpp"

#include <iostream>
#include <unordered_set>

#include "jobs/job_file.hpp"

namespace exportd {

LoadedBatch load_job_files(const std::vector<std::string>& paths, const JobDefaults& defaults) {
  LoadedBatch batch;
  std::unordered_set<std::string> keys;
  for (const auto& path : paths) {
    Diagnostics diags(path);
    auto jobs = load_job_file(path, defaults, diags);
    if (jobs) {
      for (const auto& j : *jobs) {
        if (keys.count(j.key) != 0) {
          diags.add_at(1, 1, "job key '" + j.key + "' is also in an earlier job file; rename the file or the job id");
          break;
        }
      }
    }
    if (!diags.empty() || !jobs) {
      std::cerr << diags.str();
      ++batch.files_rejected;
      continue;
    }
    for (auto& j : *jobs) {
      keys.insert(j.key);
      batch.jobs.push_back(std::move(j));
    }
    ++batch.files_ok;
  }
  return batch;
}

}  // namespace exportd
