#include "ops/results.hpp"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "ops/durable_write.hpp"
#include "ops/time_format.hpp"

namespace exportd {

boost::json::object to_json(const JobResult& r) {
  boost::json::object o;
  o["job"] = r.job;
  if (!r.batch.empty()) o["batch"] = r.batch;
  o["project_id"] = r.project_id;
  o["status"] = r.status;
  if (!r.download_url.empty()) o["download_url"] = r.download_url;
  if (r.error) o["error"] = boost::json::object{{"code", r.error->code}, {"message", r.error->message}};
  o["submitted_at"] = r.submitted_at ? boost::json::value(rfc3339(*r.submitted_at)) : boost::json::value(nullptr);
  o["finished_at"] = rfc3339(r.finished_at);
  o["attempts"] = r.attempts;
  o["requests"] = r.requests;
  return o;
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

void ResultsFile::flush() {
  if (buffer_.empty()) return;
  write_fully_and_sync(fd_, buffer_, path_);
  buffer_.clear();
}

}  // namespace exportd
