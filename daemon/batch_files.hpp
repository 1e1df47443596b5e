#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "jobs/job_spec.hpp"

namespace exportd {

// The jobs of several job files, each file taken or rejected whole.
struct LoadedBatch {
  std::vector<JobSpec> jobs;
  std::size_t files_ok = 0;
  std::size_t files_rejected = 0;
};

// Loads each file, printing each problem to stderr as FILE:LINE:COL: message.
// A job key already taken by an earlier file rejects the later file.
LoadedBatch load_job_files(const std::vector<std::string>& paths, const JobDefaults& defaults);

}  // namespace exportd
