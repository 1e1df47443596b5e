#include "spool/spool.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "ops/file_read.hpp"
#include "ops/retention.hpp"
#include "spool/journal.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace fs = std::filesystem;

namespace {

void move_durably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot move " + from + " to " + to);
  sync_directory(fs::path(to).parent_path().string());
  sync_directory(fs::path(from).parent_path().string());
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

constexpr std::string_view error_suffix = ".error";

// NAME.error beside a rejected file; a name too long to take the suffix is cut.
std::string error_file_name(const std::string& name) {
  constexpr std::size_t name_max = 255;
  const std::string suffix(error_suffix);
  return (name.size() + suffix.size() <= name_max ? name : name.substr(0, name_max - suffix.size())) + suffix;
}

}  // namespace

Spool::Spool(std::string state_dir, Access access) : root_(std::move(state_dir)) {
  if (access == Access::read) return;
  for (const auto& d : {root_, incoming(), active(), done(), rejected()}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) throw std::system_error(ec, "cannot create " + d);
  }
  // Probe that the state folder takes writes now, not at the first job.
  const auto probe = root_ + "/.write-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "state_dir " + root_ + " is not writable");
  ::close(fd);
  ::unlink(probe.c_str());
}

bool Spool::is_error_note(const std::string& name) { return name.size() > error_suffix.size() && ends_with(name, error_suffix); }

std::string Spool::error_note(const std::string& name) const { return rejected() + "/" + error_file_name(name); }

bool Spool::takes(const std::string& name) {
  if (name.empty() || name.front() == '.' || ends_with(name, ".tmp")) return false;
  return ends_with(name, ".yaml") || ends_with(name, ".yml");
}

std::vector<std::string> Spool::waiting() const {
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(incoming(), ec)) {
    const auto name = e.path().filename().string();
    // Not only regular files: a folder or FIFO with a job file's name is
    // taken too, to be rejected with its reason rather than left lying.
    if (!takes(name)) continue;
    found.emplace_back(e.last_write_time(ec), name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::string Spool::new_batch_id(const std::string& name) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  // The id is a file name in active/ and done/ and goes into the journal:
  // bounded (a 250-byte drop name must still fit in NAME_MAX) and safe text.
  const auto safe_name = bounded_text(name, 180);
  for (;;) {
    char seq[16];
    std::snprintf(seq, sizeof seq, "%04u", ++sequence_ % 10000);
    std::string id = std::string(stamp) + "-" + seq + "-" + safe_name;
    std::error_code ec1, ec2;
    if (!fs::exists(snapshot(id), ec1) && !fs::exists(done() + "/" + id, ec2)) return id;
  }
}

Result<void> Spool::claim(const std::string& name, const std::string& batch) {
  const auto from = incoming() + "/" + name;
  if (::rename(from.c_str(), snapshot(batch).c_str()) != 0) return system_failure(errno, "cannot claim " + from);
  sync_directory(active());
  sync_directory(incoming());
  return {};
}

void Spool::reject(const std::string& name, const std::string& why) {
  write_file_durably(error_note(name), why);
  move_durably(incoming() + "/" + name, rejected() + "/" + name);
}

void Spool::reject_batch(const std::string& batch, const std::string& why) {
  write_file_durably(error_note(batch), why);
  std::error_code ec;
  if (fs::symlink_status(snapshot(batch), ec).type() != fs::file_type::not_found)
    move_durably(snapshot(batch), rejected() + "/" + batch);
}

void Spool::file_away(const std::string& batch) {
  std::error_code ec;
  if (fs::symlink_status(snapshot(batch), ec).type() != fs::file_type::not_found)
    move_durably(snapshot(batch), done() + "/" + batch);
}

void Spool::write_snapshot(const std::string& batch, const std::string& content) {
  write_file_durably(snapshot(batch), content);
}

std::string read_file(const std::string& path) {
  auto text = read_regular_file(path, max_job_file_bytes);
  return text ? std::move(*text) : std::string();
}

namespace {

// A folder of job files where NAME and NAME.error go together: each pair
// counts once, by its newer file, and is removed whole.
std::size_t prune_job_files(const std::string& dir, const KeepRule& rule, std::chrono::system_clock::time_point now) {
  std::map<std::string, std::chrono::system_clock::time_point> units;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    auto name = e.path().filename().string();
    if (Spool::is_error_note(name)) name.resize(name.size() - error_suffix.size());
    if (name.empty() || name.front() == '.') continue;  // a temp file of a write under way
    auto& t = units[name];
    t = std::max(t, modified_at(e.path().string()));
  }
  std::vector<KeptFile> files;
  files.reserve(units.size());
  for (auto& [name, t] : units) files.push_back({name, t});
  const auto gone = files_to_remove(std::move(files), rule, now);
  for (const auto& name : gone) {
    fs::remove(fs::path(dir) / name, ec);
    fs::remove(fs::path(dir) / error_file_name(name), ec);
  }
  if (!gone.empty()) sync_directory(dir);
  return gone.size();
}

}  // namespace

Pruned prune_spool(const Spool& spool, const RetentionSettings& r, std::chrono::system_clock::time_point now) {
  const auto age =
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::hours(24) * r.done_days);
  Pruned out;
  out.done = prune_job_files(spool.done(), {age, r.done_max_files}, now);
  out.rejected = prune_job_files(spool.rejected(), {age, r.done_max_files}, now);
  out.results = remove_rotated_results(spool.root(), {age, r.results_keep}, now);
  return out;
}

StateLock::StateLock(const std::string& state_dir) {
  const auto path = state_dir + "/lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const auto n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) throw std::system_error(err, std::generic_category(), "cannot lock " + path);
    std::string holder = n > 0 ? bounded_text(std::string_view(pid, static_cast<std::size_t>(n)), 20) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '?')) holder.pop_back();
    throw std::runtime_error("another exportd" + (holder.empty() ? std::string() : " (pid " + holder + ")") +
                             " is running on state_dir " + state_dir +
                             "; stop it first, or give this one a state_dir of its own");
  }
  const auto text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) < 0) {
    // The lock holds all the same; the pid is only for the message above.
  }
}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace exportd
