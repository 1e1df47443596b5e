#pragma once

#include <string>

namespace exportd {

// The few file operations everything durable here is built from.

// write(2) of all of `data`, then fdatasync; throws std::system_error naming `what`.
void write_fully_and_sync(int fd, const std::string& data, const std::string& what);
// fsync of a folder, so a create or rename inside it survives a crash.
void sync_directory(const std::string& dir);
// Writes `path` atomically and durably: temp file, fsync, rename, folder fsync.
// The file is created with `mode` (less the umask); a stale temp file is
// removed first, so it never lends its own permissions.
void write_file_durably(const std::string& path, const std::string& content, unsigned mode = 0640);

}  // namespace exportd
