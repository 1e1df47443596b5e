#include "download/download_root.hpp"

#include "ops/below.hpp"

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
  const std::string prefix = path_.ends_with('/') ? path_ : path_ + "/";  // only "/" itself ends with one
  if (!file.starts_with(prefix) || file.size() == prefix.size())
    return Failure{Errc::invalid_input, std::string(file) + " is not below download.dir " + path_};
  auto below = folder_below(fd_.get(), file.substr(prefix.size()), path_, make,
                            "downloads never follow one below download.dir");
  if (!below) return below.error();
  return VideoFolder{std::move(below->fd), std::move(below->leaf)};
}

}  // namespace exportd
