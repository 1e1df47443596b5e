#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "error/error.hpp"
#include "ops/unique_fd.hpp"

namespace exportd {

// Caps on the files exportd reads on an operator's or a dropper's word
// (README: "Limits"). A larger file is refused before it is read.
inline constexpr std::size_t max_job_file_bytes = 8u << 20;     // job, queue and config files
inline constexpr std::size_t max_scenes_file_bytes = 8u << 20;  // a create job's scenes JSON
inline constexpr std::size_t max_rows_file_bytes = 256u << 20;  // a template job's CSV of rows
inline constexpr std::size_t max_key_file_bytes = 64u << 10;    // the user key

// Reads a regular file whole. Anything else (a FIFO, a device, a folder) is
// refused without blocking on it: the file is opened non-blocking and
// checked with fstat before a byte is read. A failure says why: the
// system's error (code and text) or Errc::unreadable ("not a regular file",
// "larger than 8 MiB"); the message does not repeat the path.
Result<std::string> read_regular_file(const std::string& path, std::size_t max_bytes);

// What fstat said of an opened file: the same file, unchanged, has the same stamp.
struct FileStamp {
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t modified_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
struct OpenedFile {
  UniqueFd fd;
  FileStamp stamp;
};

// Opens a regular file as read_regular_file does. With `below` (a folder):
// `path` must be lexically below it, and no symbolic link below it is
// followed on the way (ops/below.hpp); `rule` says why, when one is met.
Result<OpenedFile> open_regular_file(const std::string& path, std::size_t max_bytes, const std::string& below,
                                     std::string_view rule);
// The whole of a file opened so, within `max_bytes`.
Result<std::string> read_opened(const OpenedFile& file, std::size_t max_bytes);

// "8 MiB", "64 KiB": a cap as the README states it.
std::string format_size_cap(std::size_t bytes);

}  // namespace exportd
