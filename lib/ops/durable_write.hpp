#pragma once

#include <string>

namespace exportd {

// The few file operations everything durable here is built from.

// write(2) of all of `data`, then fdatasync; throws std::system_error naming `what`.
void write_fully_and_sync(int fd, const std::string& data, const std::string& what);
// fsync of a folder, so a create or rename inside it survives a crash.
void sync_directory(const std::string& dir);
// Writes `path` atomically and durably: temp file, fsync, rename, folder fsync.
void write_file_durably(const std::string& path, const std::string& content);

}  // namespace exportd
