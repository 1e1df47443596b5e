#pragma once

// The receiving end of NOTIFY_SOCKET, as systemd holds it: collects every
// sd_notify datagram the daemon under test sends, with when it came.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace exportd::testing {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  std::vector<std::string> messages();
  // How many messages hold `what`.
  std::size_t count(const std::string& what);
  // When each message holding `what` came (steady clock).
  std::vector<std::chrono::steady_clock::time_point> times(const std::string& what);

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> done_{false};
  std::thread reader_;
  std::mutex mu_;
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> messages_;
};

}  // namespace exportd::testing
