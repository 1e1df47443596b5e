#include "ops/file_read.hpp"

#include "ops/below.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exportd {

std::string format_size_cap(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

namespace {

Failure too_large(std::size_t max_bytes) {
  return {Errc::unreadable, "larger than " + format_size_cap(max_bytes) + ", the limit for this kind of file"};
}

constexpr int read_flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

}  // namespace

Result<OpenedFile> open_regular_file(const std::string& path, std::size_t max_bytes, const std::string& below,
                                     std::string_view rule) {
  OpenedFile file;
  if (below.empty()) {
    file.fd = UniqueFd(::open(path.c_str(), read_flags));
  } else {
    const auto rest = relative_below(below, path);
    if (!rest) return Failure{Errc::invalid_input, "not below " + below};
    const UniqueFd root(::open(below.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return system_failure(errno, below);
    auto folder = folder_below(root.get(), *rest, below, false, rule);
    if (!folder) return folder.error();
    file.fd = UniqueFd(::openat(folder->fd.get(), folder->leaf.c_str(), read_flags | O_NOFOLLOW));
    if (!file.fd && errno == ELOOP) return Failure{Errc::invalid_input, "a symbolic link: " + std::string(rule)};
  }
  if (!file.fd) return system_failure(errno);
  struct stat st {};
  if (::fstat(file.fd.get(), &st) != 0) return system_failure(errno);
  if (!S_ISREG(st.st_mode))
    return Failure{Errc::unreadable, S_ISDIR(st.st_mode)
                                         ? "not a regular file (a folder)"
                                         : "not a regular file (a FIFO, socket or device is never read)"};
  if (static_cast<std::size_t>(st.st_size) > max_bytes) return too_large(max_bytes);
  file.stamp = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                static_cast<std::uint64_t>(st.st_size),
                static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
  return file;
}

Result<std::string> read_opened(const OpenedFile& file, std::size_t max_bytes) {
  std::string text;
  text.resize(static_cast<std::size_t>(file.stamp.size) + 1);  // one more: a file that grew is noticed
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (text.size() > max_bytes) return too_large(max_bytes);
      text.resize(std::min(text.size() * 2 + 1, max_bytes + 1));
    }
    const auto n = ::read(file.fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_failure(errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_bytes) return too_large(max_bytes);
  text.resize(got);
  return text;
}

Result<std::string> read_regular_file(const std::string& path, std::size_t max_bytes) {
  auto file = open_regular_file(path, max_bytes, {}, {});
  if (!file) return file.error();
  return read_opened(*file, max_bytes);
}

}  // namespace exportd
