#include "preflight.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

#include "config/config.hpp"
#include "http/tls.hpp"

namespace exportd {

namespace fs = std::filesystem;

namespace {

std::string at(const Config& c, std::string_view setting, const std::string& text) {
  const auto p = c.place_of(setting);
  return c.path + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + text;
}

// Makes and removes a file (or, `folder`, a folder) in `dir`: errno of the failure, or 0.
int try_making_in(const std::string& dir, bool folder) {
  std::string name = (fs::path(dir) / ".exportd-check-XXXXXX").string();
  if (folder) {
    if (::mkdtemp(name.data()) == nullptr) return errno;
    ::rmdir(name.c_str());
    return 0;
  }
  const int fd = ::mkstemp(name.data());
  if (fd < 0) return errno;
  ::close(fd);
  ::unlink(name.c_str());
  return 0;
}

}  // namespace

std::string folder_problem(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return "cannot create " + dir + ": it exists and is not a folder";
    if (const int e = try_making_in(dir, false); e != 0)
      return dir + " is not writable by this user: " + std::strerror(e);
    return "";
  }
  // The nearest folder that exists must take a new one.
  std::error_code ec;
  fs::path up = fs::absolute(dir, ec).lexically_normal();
  while (up.has_parent_path() && up != up.parent_path()) {
    up = up.parent_path();
    if (::stat(up.c_str(), &st) != 0) continue;
    if (!S_ISDIR(st.st_mode)) return "cannot create " + dir + ": " + up.string() + " is not a folder";
    if (const int e = try_making_in(up.string(), true); e != 0)
      return "cannot create " + dir + ": " + up.string() + " does not take a new folder: " + std::strerror(e);
    return "";
  }
  return "cannot create " + dir + ": no folder of its path exists";
}

// Why `program` (a delivery command's argv[0]) cannot be run, or "": a path
// must be an executable file; a bare name must be one in exportd's PATH,
// which is the one the command gets.
std::string program_problem(const std::string& program) {
  const auto runnable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos)
    return runnable(program) ? "" : program + " is not an executable file";
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t from = 0; from <= dirs.size();) {
    const auto end = std::min(dirs.find(':', from), dirs.size());
    const auto dir = dirs.substr(from, end - from);
    if (!dir.empty() && runnable(dir + "/" + program)) return "";
    from = end + 1;
  }
  return program + " is not found in PATH (" + dirs + "): install it, or name it by its full path";
}

Preflight preflight(const Config& c, PreflightFor purpose) {
  Preflight out;
  const auto& api = c.api;
  auto key = read_user_key(api);
  if (!key && purpose == PreflightFor::check && !api.user_key_credential.empty() &&
      std::getenv("CREDENTIALS_DIRECTORY") == nullptr) {
    out.notes.push_back(at(c, "api.user_key_credential",
                           "not checked: the key comes from systemd (LoadCredential=), which this shell does not have; "
                           "`systemd-run --pipe -p LoadCredential=" +
                               api.user_key_credential + ":/path/to/key exportd check -c " + c.path + "` checks it"));
  } else if (key) {
    out.user_key = std::move(*key);
  } else {
    const auto* setting = !api.user_key_credential.empty() ? "api.user_key_credential"
                          : !api.user_key_env.empty()      ? "api.user_key_env"
                                                           : "api.user_key_file";
    out.config_problems.push_back(at(c, setting, key.error().message));
  }
  try {
    // The downloads verify with it too, whatever the API's scheme.
    if (api.endpoint.tls || !api.ca_file.empty() || c.download.enabled())
      out.tls = make_client_tls_context(api.ca_file);
  } catch (const std::exception& e) {
    out.config_problems.push_back(at(c, "api.ca_file", e.what()));
  }
  if (const auto why = folder_problem(c.state_dir); !why.empty())
    out.folder_problems.push_back(at(c, "state_dir", "state_dir: " + why));
  if (c.download.enabled())
    if (const auto why = folder_problem(c.download.dir); !why.empty())
      out.folder_problems.push_back(at(c, "download.dir", "download.dir: " + why));
  if (c.deliver.enabled())
    if (const auto why = program_problem(c.deliver.command.front()); !why.empty())
      out.config_problems.push_back(at(c, "deliver.command", "deliver.command: " + why));
  return out;
}

}  // namespace exportd
