#pragma once

#include <cstdint>
#include <string>

#include "api/wire.hpp"

namespace exportd {

enum class JobKind : std::uint8_t {
  export_project,  // export an existing project (project_id)
  create_project,  // create a project from a scenes file, exported on creation
};

// What an operator asked for: one entry of a job file, validated, with the
// config's defaults applied. Immutable once loaded.
struct JobSpec {
  std::string key;          // "<job file name>#<id>", unique per batch
  JobKind kind = JobKind::export_project;
  std::string project_id;   // export_project
  std::string scenes_file;  // create_project: absolute path to the JSON scenes
  // create_project: the folder the scenes file is read below, never through
  // a symbolic link below it (a dropped file's: the drop folder or
  // jobs.scenes_root); "" = anywhere (the operator's own queue files).
  std::string scenes_root;
  std::string name;         // create_project: project name
  std::string orientation;  // create_project: landscape | portrait ("" = API default)
  std::string resolution;   // 4k | 1080 | 720 | 480
  std::string workspace_id;
  std::string webhook_url;
  // Where its video is downloaded to, below download.dir ("" when downloads
  // are off, or until a create job's project id is known to download.name).
  std::string file_name;
};

// The request a job's spec asks for (`name` as given: a create job's tag is the exporter's to add).
inline ExportOrder export_order(const JobSpec& s) {
  return {s.project_id, s.name, s.orientation, s.resolution, s.workspace_id, s.webhook_url};
}

}  // namespace exportd
