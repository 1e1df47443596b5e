#pragma once

// What a delivery command (SPEC §13) is given for one job: its argv, each
// {placeholder} put in per argument (never through a shell, so a file name
// with spaces or quotes stays one argument), and a clean environment: PATH,
// HOME, LANG, the variables deliver.env names, and EXPORTD_* for the job.
// Never the user key or the token: they are not in what this is built from.
// Pure: values in, argv and environment out.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace exportd {

// The values of one job, as its command sees them.
struct DeliveryValues {
  std::string file_path;     // the video on disk ("" with downloads off)
  std::string download_url;  // its link
  std::string file;          // the job file's name without extension ({file} of download.name)
  std::string id;            // the job's id (its key after '#')
  std::string project_id;
  std::string sha256;        // of the video on disk
  std::string bytes;
  std::string delivery_id;   // stable for the job: the same on every try and after a restart
};

// The placeholders a command may use.
inline constexpr std::string_view delivery_placeholders[] = {"file_path", "download_url", "file", "id",
                                                            "project_id", "sha256",       "bytes"};

// Why `command` cannot be used, or "" (an empty list, an empty program, a
// placeholder that is not one of the above, {file_path} with downloads off).
std::string delivery_command_problem(const std::vector<std::string>& command, bool downloads);

// The command with every {placeholder} of each argument filled.
std::vector<std::string> delivery_argv(const std::vector<std::string>& command, const DeliveryValues& v);

// The command's whole environment. `lookup` reads exportd's own (PATH, HOME,
// LANG and the names in `pass`; a name not set is left out).
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
std::vector<std::string> delivery_env(const DeliveryValues& v, const std::vector<std::string>& pass,
                                      const EnvLookup& lookup);

}  // namespace exportd
