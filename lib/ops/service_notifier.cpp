#include "ops/service_notifier.hpp"

#include <cstdlib>

#include <systemd/sd-daemon.h>

namespace exportd {

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_interval_ = std::chrono::microseconds(usec / 2);
}

void ServiceNotifier::send(const std::string& message) {
  if (active_) sd_notify(0, message.c_str());
}

void ServiceNotifier::ready() { send("READY=1"); }
void ServiceNotifier::status(const std::string& text) { send("STATUS=" + text); }
void ServiceNotifier::watchdog() { send("WATCHDOG=1"); }
void ServiceNotifier::reloading() { send("RELOADING=1"); }
void ServiceNotifier::stopping() { send("STOPPING=1"); }

}  // namespace exportd
