#include "notify_socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace exportd::testing {

NotifySocket::NotifySocket(const std::string& path) : path_(path) {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ::unlink(path.c_str());
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind " + path);
  timeval tv{0, 100'000};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  reader_ = std::thread([this] {
    char buf[4096];
    while (!done_) {
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::lock_guard lock(mu_);
      messages_.emplace_back(std::chrono::steady_clock::now(), std::string(buf, static_cast<std::size_t>(n)));
    }
  });
}

NotifySocket::~NotifySocket() {
  done_ = true;
  reader_.join();
  ::close(fd_);
  ::unlink(path_.c_str());
}

std::vector<std::string> NotifySocket::messages() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [at, m] : messages_) out.push_back(m);
  return out;
}

std::size_t NotifySocket::count(const std::string& what) { return times(what).size(); }

std::vector<std::chrono::steady_clock::time_point> NotifySocket::times(const std::string& what) {
  std::lock_guard lock(mu_);
  std::vector<std::chrono::steady_clock::time_point> out;
  for (const auto& [at, m] : messages_)
    if (m.find(what) != std::string::npos) out.push_back(at);
  return out;
}

}  // namespace exportd::testing
