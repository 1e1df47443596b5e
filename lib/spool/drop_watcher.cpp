#include "spool/drop_watcher.hpp"

#include <cerrno>
#include <system_error>

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "spool/spool.hpp"

namespace exportd {

namespace {

int watch(const std::string& dir) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  if (::inotify_add_watch(fd, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    const int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "cannot watch " + dir);
  }
  return fd;
}

}  // namespace

DropWatcher::DropWatcher(boost::asio::any_io_executor ex, const std::string& dir) : fd_(ex, watch(dir)) {}

void DropWatcher::close() {
  boost::system::error_code ec;
  fd_.close(ec);
}

boost::asio::awaitable<std::vector<std::string>> DropWatcher::next() {
  std::vector<std::string> names;
  alignas(inotify_event) char buf[64 * 1024];
  while (names.empty()) {
    if (!fd_.is_open()) co_return names;
    auto [ec] = co_await fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                        boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec || !fd_.is_open()) co_return names;
    for (;;) {
      const auto n = ::read(fd_.native_handle(), buf, sizeof buf);
      if (n <= 0) break;  // EAGAIN: drained
      for (char* p = buf; p < buf + n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(p);
        if (ev->len > 0) {
          std::string name(ev->name);
          if (Spool::takes(name)) names.push_back(std::move(name));
        }
        p += sizeof(inotify_event) + ev->len;
      }
    }
  }
  co_return names;
}

}  // namespace exportd
