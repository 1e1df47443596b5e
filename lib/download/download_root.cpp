#include "download/download_root.hpp"

#include <cerrno>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>

namespace exportd {

namespace fs = std::filesystem;

Result<std::shared_ptr<const DownloadRoot>> DownloadRoot::open(const std::string& dir) {
  std::string path = fs::path(dir).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return system_failure(ec.value(), "download.dir " + path + " cannot be made");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return system_failure(errno, "download.dir " + path + " cannot be opened");
  return std::make_shared<const DownloadRoot>(std::move(fd), std::move(path));
}

Result<VideoFolder> DownloadRoot::folder_of(std::string_view file, bool make) const {
  const std::string prefix = path_ == "/" ? path_ : path_ + "/";
  if (!file.starts_with(prefix) || file.size() == prefix.size())
    return Failure{Errc::invalid_input, std::string(file) + " is not below download.dir " + path_};
  std::string_view rest = file.substr(prefix.size());
  VideoFolder out;
  // The root's own descriptor, duplicated, so each folder owns the one it holds.
  out.fd = UniqueFd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!out.fd) return system_failure(errno, "download.dir " + path_);
  std::string walked = path_;
  for (;;) {
    const auto slash = rest.find('/');
    const std::string segment(rest.substr(0, slash));
    if (segment.empty() || segment == "." || segment == "..")
      return Failure{Errc::invalid_input, std::string(file) + " has an empty, '.' or '..' segment"};
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
        return Failure{Errc::invalid_input, walked + (link ? " is a symbolic link: downloads never follow one below "
                                                             "download.dir"
                                                           : " is not a folder")};
      }
      return system_failure(e, "cannot open " + walked);
    }
  }
}

}  // namespace exportd
