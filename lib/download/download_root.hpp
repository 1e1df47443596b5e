#pragma once

// download.dir as the downloads see it (SPEC §10): a folder opened once at
// start and held by its descriptor, below which every video's folder is
// reached one segment at a time without following a symbolic link. A link
// swapped in for a folder below it, or for download.dir itself while the
// daemon runs, is refused or not seen: nothing is written outside it.

#include <memory>
#include <string>
#include <string_view>

#include "error/error.hpp"
#include "ops/unique_fd.hpp"

namespace exportd {

// A video's folder, opened below the root, and the video's file name in it.
struct VideoFolder {
  UniqueFd fd;       // the folder, opened O_DIRECTORY | O_NOFOLLOW segment by segment
  std::string leaf;  // NAME's last segment
};

class DownloadRoot {
 public:
  // Makes `dir` (and its parents) as needed and opens it; `dir` itself may
  // be a link the operator set up (it is resolved once, here).
  static Result<std::shared_ptr<const DownloadRoot>> open(const std::string& dir);

  // The folder of `file` (an absolute path below path()), each segment
  // opened without following a link; made as needed when `make`.
  // Errc::invalid_input when `file` is not below the root or a segment is a
  // link or not a folder; the system's error otherwise.
  Result<VideoFolder> folder_of(std::string_view file, bool make) const;

  DownloadRoot(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

 private:
  UniqueFd fd_;
  std::string path_;  // as configured, lexically normal, no trailing '/'
};

}  // namespace exportd
