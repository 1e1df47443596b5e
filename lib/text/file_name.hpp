#pragma once

// Where a downloaded video goes (SPEC §10): the `download.name` template,
// with each job's values put in. Pure; nothing here touches the disk.

#include <string>
#include <string_view>

#include "error/error.hpp"

namespace exportd {

inline constexpr std::string_view default_name_template = "{file}/{id}.mp4";

// What a job puts into the template.
struct NameValues {
  std::string_view file;        // {file}: the job file's name without its extension
  std::string_view id;          // {id}: the job's id
  std::string_view project_id;  // {project_id}: empty while a create job has none yet
  std::string_view resolution;  // {resolution}
};

// Why `tmpl` cannot be a name template ("" when it can): only {file}, {id},
// {project_id} and {resolution}; a relative path with no empty, "." or ".."
// segment, ending in a file name.
std::string name_template_problem(std::string_view tmpl);

// Whether the template uses {project_id} (a create job's is known only once
// the project exists).
bool uses_project_id(std::string_view tmpl);

// The relative path a job's video is written to. A value is put in only when
// it cannot leave its segment: not empty, no '/', not "." or "..", no
// control characters, valid UTF-8, at most 200 bytes. A failure names the
// placeholder and what is wrong with its value.
Result<std::string> render_name(std::string_view tmpl, const NameValues& values);

// The job file's name as {file} has it: "jobs.yaml" -> "jobs".
std::string file_stem(std::string_view file_name);

}  // namespace exportd
