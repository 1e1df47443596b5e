#pragma once

// Reaching a file below a folder without following a symbolic link on the
// way: each folder below the root is opened O_DIRECTORY | O_NOFOLLOW from
// the one above it, so a link swapped in anywhere below the root is refused,
// not followed, whenever it is swapped in. Used for download.dir and for the
// scenes files a dropped job file names.

#include <optional>
#include <string>
#include <string_view>

#include "error/error.hpp"
#include "ops/unique_fd.hpp"

namespace exportd {

// The folder that holds a path's last segment, and that segment.
struct FolderBelow {
  UniqueFd fd;
  std::string leaf;
};

// The folder of `rest` (a '/'-separated path relative to the open folder
// `root`, no empty, '.' or '..' segment), made as needed when `make`.
// `shown`: the root's path, for messages; `rule`: what a refused link
// breaks ("downloads never follow one below download.dir").
// Errc::invalid_input for a bad segment, a link or a non-folder; the system's error otherwise.
Result<FolderBelow> folder_below(int root, std::string_view rest, const std::string& shown, bool make,
                                 std::string_view rule);

// `path` relative to `root` when it is lexically below it (both absolute,
// normalised); nothing otherwise.
std::optional<std::string> relative_below(const std::string& root, const std::string& path);

}  // namespace exportd
