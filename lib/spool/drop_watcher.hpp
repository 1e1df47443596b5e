#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace exportd {

// Watches incoming/ with inotify on the event loop: a file renamed into it
// (IN_MOVED_TO) or written and closed there (IN_CLOSE_WRITE) is reported once
// it is complete. No polling, no timer.
class DropWatcher {
 public:
  DropWatcher(boost::asio::any_io_executor ex, const std::string& dir);
  // The names that arrived since the last call (only those Spool::takes);
  // empty once close() was called.
  boost::asio::awaitable<std::vector<std::string>> next();
  void close();

 private:
  boost::asio::posix::stream_descriptor fd_;
};

}  // namespace exportd
