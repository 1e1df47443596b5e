#pragma once

// A video on disk while it downloads (SPEC §10): NAME.part beside NAME in a
// folder opened below download.dir, what the journal vouches for of it, its
// check after a restart, its writes (hashed on the way), and the rename into
// place once it is whole. Blocking file work, no network: the fetch runs it
// on a download thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "download/download_root.hpp"
#include "jobs/resume.hpp"
#include "error/error.hpp"
#include "ops/digest.hpp"
#include "ops/unique_fd.hpp"

namespace exportd {

// A download under way: NAME.part beside NAME.
struct VideoFile {
  std::string path;  // NAME, absolute, below download.dir
  PartialFile part;
  // Of the first hash.bytes() bytes of NAME.part: all of them while they
  // stream in; none after a restart, until NAME.part is checked.
  Sha256 hash;
  Checkpoint checkpoint;   // the latest the journal holds
  std::uint64_t most = 0;  // the most NAME.part has held in this run: a try moves on only past it
  bool in_place = false;   // NAME is whole already (renamed before a crash), its digest checked
  std::string part_path() const { return path + ".part"; }
};

// Fills in `file.part` from what the journal recorded: the validator, the
// length and the latest checkpoint (empty, nullopt, {}: none). The part is
// checked against the checkpoint by the next try, before it asks for more.
void adopt_partial_file(VideoFile& file, std::string validator, std::optional<std::uint64_t> total,
                        Checkpoint checkpoint);

// Drops what is on disk of the download: the next bytes start the video over.
void start_over(VideoFile& file);

enum class PartNext : std::uint8_t {
  go_on,     // ask the host for what the part lacks (`file` says from where)
  in_place,  // NAME is whole and checked: nothing to fetch
  blocked,   // NAME is something else (a folder, a link): left alone, the job fails
};
struct PartCheck {
  PartNext next = PartNext::go_on;
  std::string why;        // for `blocked`
  std::string discarded;  // what was found wrong on disk and thrown away ("" = nothing)
};
PartCheck check_part(const VideoFolder& folder, VideoFile& file, std::size_t scratch_bytes);

// NAME.part opened for writing at `offset` in its folder, truncated there.
struct PartWriter {
  UniqueFd fd;
  Failure error;
  bool shrank = false;  // shorter than this download left it: start over
};
PartWriter open_part(const VideoFolder& folder, VideoFile& file, std::uint64_t offset);

// Writes all of data[0, n) (or as much as fits) and hashes what was written.
struct Written {
  std::size_t bytes = 0;
  int error = 0;  // errno of the write that failed
};
Written write_part(int fd, const char* data, std::size_t n, Sha256& hash);

struct FinishedVideo {
  std::string path;
  std::uint64_t bytes = 0;
  std::string sha256;  // hex
};

// A whole NAME.part into place below `root`: fsync, rename to NAME, fsync of
// the folder. Checks the length against what the server said.
Result<FinishedVideo> finish_part(const DownloadRoot& root, VideoFile& file);

}  // namespace exportd
