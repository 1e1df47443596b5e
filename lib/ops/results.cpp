#include "ops/results.hpp"

#include <cerrno>
#include <system_error>

#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "ops/durable_write.hpp"
#include "ops/retention.hpp"
#include "ops/time_format.hpp"
#include "text/safe_text.hpp"

namespace exportd {

std::string_view to_string(JobOutcome o) {
  switch (o) {
    case JobOutcome::succeeded:
      return "succeeded";
    case JobOutcome::failed:
      return "failed";
    case JobOutcome::timed_out:
      return "timed_out";
  }
  return "failed";
}

std::optional<JobOutcome> job_outcome_from(std::string_view text) {
  for (auto o : {JobOutcome::succeeded, JobOutcome::failed, JobOutcome::timed_out})
    if (to_string(o) == text) return o;
  return std::nullopt;
}

boost::json::object to_json(const JobResult& r) {
  // Every string is valid UTF-8 here, whatever reached us, so each line parses back.
  boost::json::object o;
  o["job"] = to_utf8(r.job);
  if (!r.batch.empty()) o["batch"] = to_utf8(r.batch);
  o["project_id"] = to_utf8(r.project_id);
  o["status"] = to_string(r.status);
  if (!r.download_url.empty()) o["download_url"] = to_utf8(r.download_url);
  if (r.error)
    o["error"] = boost::json::object{{"code", to_utf8(r.error->code)}, {"message", to_utf8(r.error->message)}};
  o["submitted_at"] = r.submitted_at ? boost::json::value(rfc3339(*r.submitted_at)) : boost::json::value(nullptr);
  o["finished_at"] = rfc3339(r.finished_at);
  o["attempts"] = r.attempts;
  o["requests"] = r.requests;
  if (r.row != 0) o["row"] = r.row;
  if (r.exported_at) o["exported_at"] = rfc3339(*r.exported_at);
  if (r.delivering_at) o["delivering_at"] = rfc3339(*r.delivering_at);
  if (r.delivered_at) o["delivered_at"] = rfc3339(*r.delivered_at);
  if (r.deliveries != 0) o["delivery_attempts"] = r.deliveries;
  if (r.video) {
    o["file"] = to_utf8(r.video->file);
    o["bytes"] = r.video->bytes;
    o["sha256"] = r.video->sha256;
  }
  return o;
}

std::optional<JobOutcome> outcome_of(const boost::json::object& result) {
  const auto* s = result.if_contains("status");
  if (s == nullptr || !s->is_string()) return std::nullopt;
  return job_outcome_from(s->as_string());
}

std::string result_text(const boost::json::object& line, std::string_view key) {
  const auto* v = line.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::uint64_t result_count(const boost::json::object& line, std::string_view key) {
  const auto* v = line.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64()) return v->as_int64() > 0 ? static_cast<std::uint64_t>(v->as_int64()) : 0;
  return 0;
}

std::string to_json_line(const JobResult& r) { return boost::json::serialize(to_json(r)); }

ResultsFile::ResultsFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path_);
}

ResultsFile::~ResultsFile() {
  try {
    flush();
  } catch (...) {
    // Destruction after a failed flush: the error was reported when it happened.
  }
  if (fd_ >= 0) ::close(fd_);
}

void ResultsFile::append(const JobResult& r) { append_line(to_json_line(r)); }

void ResultsFile::append_line(const std::string& json_line) {
  buffer_ += json_line;
  buffer_ += '\n';
}

void ResultsFile::reopen_if_moved() {
  // Removed or rotated under us (logrotate, an operator): later lines go to
  // a new file at the path, not into the old inode.
  struct stat at_path {
  }, ours{};
  if (::stat(path_.c_str(), &at_path) == 0 && ::fstat(fd_, &ours) == 0 && at_path.st_dev == ours.st_dev &&
      at_path.st_ino == ours.st_ino)
    return;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot reopen " + path_);
  ::close(fd_);
  fd_ = fd;
  sync_directory(std::filesystem::path(path_).parent_path().string());
}

void ResultsFile::flush() {
  if (buffer_.empty()) return;
  reopen_if_moved();
  write_fully_and_sync(fd_, buffer_, path_);
  buffer_.clear();
  struct stat st {};
  if (max_size_ > 0 && ::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= max_size_) rotate();
}

void ResultsFile::rotate() {
  const auto dir = std::filesystem::path(path_).parent_path();
  auto at = std::chrono::system_clock::now();
  std::filesystem::path to;
  std::error_code ec;
  do {  // two rotations in one millisecond: the second takes the next one
    to = dir / rotated_results_name(at);
    at += std::chrono::milliseconds(1);
  } while (std::filesystem::exists(to, ec));
  // Lines are whole and synced; after the rename (or a crash right after it)
  // each of them is in exactly one of the two files.
  if (::rename(path_.c_str(), to.c_str()) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot rotate " + path_ + " to " + to.string());
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path_);
  ::close(fd_);
  fd_ = fd;
  sync_directory(dir.string());
  ++rotations_;
  rotated_.push_back(to.string());
  if (rotated_.size() > 1000) rotated_.erase(rotated_.begin());
  if (keep_ > 0) remove_rotated_results(dir.string(), {{}, keep_}, std::chrono::system_clock::now());
}

}  // namespace exportd
