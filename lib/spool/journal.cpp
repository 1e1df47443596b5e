#include "spool/journal.hpp"

#include "ops/durable_write.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

namespace exportd {

namespace fs = std::filesystem;

Journal::Journal(boost::asio::any_io_executor ex, std::string path) : ex_(ex), path_(std::move(path)), on_sync_(ex) {
  const bool existed = fs::exists(path_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path_);
  if (!existed) sync_directory(fs::path(path_).parent_path().string());
}

void Journal::replace(const std::vector<JournalRecord>& records) {
  if (pending()) throw std::logic_error("journal replaced with records still pending");
  rewrite(path_, records);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot reopen " + path_);
  ::close(fd_);
  fd_ = fd;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

std::string Journal::read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Journal::rewrite(const std::string& path, const std::vector<JournalRecord>& records) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot create " + tmp);
  std::string text;
  for (const auto& r : records) text += encode(r) + "\n";
  try {
    write_fully_and_sync(fd, text, tmp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot replace " + path);
  sync_directory(fs::path(path).parent_path().string());
}

void Journal::flush() {
  if (pending_.empty()) return;
  std::string data;
  data.swap(pending_);
  write_fully_and_sync(fd_, data, path_);
  ++syncs_;
}

void Journal::commit_now(const JournalRecord& record) {
  pending_ += encode(record) + "\n";
  flush();
  synced_ = ++queued_;
}

boost::asio::awaitable<void> Journal::commit(const JournalRecord& record) {
  pending_ += encode(record) + "\n";
  const auto mine = ++queued_;
  if (!flush_posted_) {
    flush_posted_ = true;
    boost::asio::post(ex_, [this] {
      flush_posted_ = false;
      const auto upto = queued_;
      flush();  // throws out of the event loop on a disk error: nothing is acted on unsaved
      synced_ = upto;
      on_sync_.notify_all();
    });
  }
  while (synced_ < mine) co_await on_sync_.wait();
}

}  // namespace exportd
