#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/wire.hpp"

namespace exportd {

enum class JobKind : std::uint8_t {
  export_project,  // export an existing project (project_id)
  create_project,  // create a project from a scenes file (or a template and a row), exported on creation
};

// A personalized batch's rows (SPEC §12): one CSV, read and checked once,
// held once for all the jobs of its `template:` entry; each job names its
// row, and its request is built from the template and the row when it is sent.
struct TemplateRows {
  std::string template_file;           // absolute: the scenes with {{column}} placeholders
  std::string template_root;           // the folder it is read below, as a scenes_file's ("" = anywhere)
  std::string rows_file;               // absolute
  std::string digest;                  // of the file as read: a batch is never run on from a changed one
  std::vector<std::string> columns;    // the first line's names
  std::vector<std::string> cells;      // row-major, columns.size() per row
  std::vector<std::uint32_t> lines;    // the line each row begins on
  std::size_t size() const { return lines.size(); }
  std::optional<std::string_view> value(std::size_t row, std::string_view column) const {
    for (std::size_t c = 0; c < columns.size(); ++c)
      if (columns[c] == column) return std::string_view(cells[row * columns.size() + c]);
    return std::nullopt;
  }
};

// What an operator asked for: one entry of a job file, validated, with the
// config's defaults applied. Immutable once loaded.
struct JobSpec {
  std::string key;          // "<job file name>#<id>", unique per batch
  JobKind kind = JobKind::export_project;
  std::string project_id;   // export_project
  std::string scenes_file;  // create_project: absolute path to the JSON scenes ("" for a template job: see rows)
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
  // A template job (create_project): its template and rows, held once for
  // all of its entry's jobs, and which row it is. Null for every other job.
  std::shared_ptr<const TemplateRows> rows;
  std::uint32_t row = 0;
  // The CSV line its row begins on (results' `row`), 0 when not a template job.
  std::uint32_t row_line() const { return rows ? rows->lines[row] : 0; }
};

// The request a job's spec asks for (`name` as given: a create job's tag is the exporter's to add).
inline ExportOrder export_order(const JobSpec& s) {
  return {s.project_id, s.name, s.orientation, s.resolution, s.workspace_id, s.webhook_url};
}

}  // namespace exportd
