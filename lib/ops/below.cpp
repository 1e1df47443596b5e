#include "ops/below.hpp"

#include <cerrno>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>

namespace exportd {

Result<FolderBelow> folder_below(int root, std::string_view rest, const std::string& shown, bool make,
                                 std::string_view rule) {
  FolderBelow out;
  // The root's own descriptor, duplicated, so each folder owns the one it holds.
  out.fd = UniqueFd(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!out.fd) return system_failure(errno, shown);
  std::string walked = shown;
  for (;;) {
    const auto slash = rest.find('/');
    const std::string segment(rest.substr(0, slash));
    if (segment.empty() || segment == "." || segment == "..")
      return Failure{Errc::invalid_input, shown + "/" + std::string(rest) + " has an empty, '.' or '..' segment"};
    if (slash == std::string_view::npos) {
      out.leaf = segment;
      return out;
    }
    walked += "/" + segment;
    rest.remove_prefix(slash + 1);
    for (int tries = 0;; ++tries) {
      UniqueFd next(::openat(out.fd.get(), segment.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (next) {
        out.fd = std::move(next);
        break;
      }
      const int e = errno;
      if (e == ENOENT && make && tries == 0) {
        if (::mkdirat(out.fd.get(), segment.c_str(), 0755) == 0 || errno == EEXIST) continue;
        return system_failure(errno, "cannot make " + walked);
      }
      if (e == ELOOP || e == ENOTDIR) {
        struct stat st {};
        const bool link =
            ::fstatat(out.fd.get(), segment.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        return Failure{Errc::invalid_input,
                       walked + (link ? " is a symbolic link: " + std::string(rule) : std::string(" is not a folder"))};
      }
      return system_failure(e, "cannot open " + walked);
    }
  }
}

std::optional<std::string> relative_below(const std::string& root, const std::string& path) {
  const auto rel =
      std::filesystem::path(path).lexically_normal().lexically_relative(std::filesystem::path(root).lexically_normal());
  if (rel.empty() || rel.is_absolute() || *rel.begin() == ".." || rel == ".") return std::nullopt;
  auto text = rel.string();
  while (!text.empty() && text.back() == '/') text.pop_back();
  if (text.empty()) return std::nullopt;
  return text;
}

}  // namespace exportd
