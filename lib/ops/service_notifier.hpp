#pragma once

#include <chrono>
#include <string>

namespace exportd {

// Talks to systemd (Type=notify) through libsystemd's sd_notify: READY=1,
// STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1. Outside systemd
// (no NOTIFY_SOCKET) every call does nothing.
class ServiceNotifier {
 public:
  ServiceNotifier();

  bool active() const { return active_; }
  // Half of WatchdogSec when the watchdog is on, else zero.
  std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

  void ready();
  void status(const std::string& text);
  void watchdog();
  void reloading();
  void stopping();

 private:
  void send(const std::string& message);

  bool active_ = false;
  std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace exportd
