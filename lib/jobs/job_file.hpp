#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "config/config.hpp"
#include "config/yaml_schema.hpp"
#include "jobs/job_spec.hpp"
#include "jobs/scenes.hpp"

namespace exportd {

// Where a job file's keys and relative paths come from when the file has
// moved (a claimed drop file, a queue file's snapshot). Empty: from `path`.
struct JobFileOrigin {
  std::string name;      // the file name used in job keys (name#id)
  std::string base_dir;  // the folder relative scenes_file paths resolve against
  // Where scenes files may be read from (a dropped file: the drop folder and
  // jobs.scenes_root). Empty: anywhere (the operator's own queue files).
  std::vector<std::string> scenes_roots;
  // The path the problems name (a claimed drop: where the operator put it). Empty: the path read.
  std::string shown;
};

// A file dropped into (or submitted to) the drop folder `incoming`: keys
// from `name`, paths from the drop folder, scenes files only from there or
// from jobs.scenes_root.
JobFileOrigin drop_file_origin(const std::string& name, const std::string& incoming, const JobDefaults& defaults);

// How a job file's scenes files are checked as it is read.
enum class ScenesCheck : std::uint8_t {
  read,       // each distinct file read and parsed once (intake, check, submit)
  path_only,  // only where it is (a restart, a batch run again): a job sent already never needs
              // its scenes again, and one not yet sent reads them when it is sent (and fails alone)
};

// Reads a job file: one job, or a list under `jobs:`. A file with any problem
// is rejected whole: the failure lists every problem, one FILE:LINE:COL line
// each. `text`, when given, is the file's content already read (it is not
// read again).
Result<std::vector<JobSpec>> load_job_file(const std::string& path, const JobDefaults& defaults,
                                           const JobFileOrigin& origin = {}, const std::string* text = nullptr,
                                           ScenesCheck scenes = ScenesCheck::read);

// A queue file's text parsed once: its jobs with their scenes files located
// (as ScenesCheck::path_only), and apart from them what reading each
// distinct scenes file found, FILE:LINE:COL at its job's scenes_file. A
// batch run again needs only the jobs; a new batch needs the scenes sound.
struct JobFileRead {
  Result<std::vector<JobSpec>> jobs;
  std::optional<Failure> scenes;  // nothing: every scenes file read is sound
};
// What the rows files of a batch's template jobs held when they were read
// ("" when it has none): a batch taken in from some rows is never run on
// from others, whose ids (and so job keys) may differ.
std::string rows_digest(const std::vector<JobSpec>& jobs);

JobFileRead read_job_file_once(const std::string& path, const JobDefaults& defaults, const std::string& text);

}  // namespace exportd
