#include "ops/file_read.hpp"

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

std::optional<std::string> read_regular_file(const std::string& path, std::size_t max_bytes, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = S_ISDIR(st.st_mode) ? "not a regular file (a folder)" : "not a regular file (a FIFO, socket or device is never read)";
    ::close(fd);
    return std::nullopt;
  }
  const auto too_large = [&] {
    error = "larger than " + format_size_cap(max_bytes) + ", the limit for this kind of file";
    ::close(fd);
    return std::nullopt;
  };
  if (static_cast<std::size_t>(st.st_size) > max_bytes) return too_large();
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size) + 1);  // one more: a file that grew is noticed
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (text.size() > max_bytes) return too_large();
      text.resize(std::min(text.size() * 2 + 1, max_bytes + 1));
    }
    const auto n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > max_bytes) {
    error = "larger than " + format_size_cap(max_bytes) + ", the limit for this kind of file";
    return std::nullopt;
  }
  text.resize(got);
  return text;
}

}  // namespace exportd
