#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace exportd {

// A wake-up call for coroutines on one strand: wait() suspends until the next
// notify_all() (or until `deadline`). Waiters re-check their condition after
// waking, as with a condition variable.
class Signal {
 public:
  explicit Signal(boost::asio::any_io_executor ex) : timer_(ex) { timer_.expires_at(TimePointMax); }

  boost::asio::awaitable<void> wait() {
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  // Wakes everybody waiting now.
  void notify_all() { timer_.cancel(); }

 private:
  static constexpr auto TimePointMax = boost::asio::steady_timer::time_point::max();
  boost::asio::steady_timer timer_;
};

}  // namespace exportd
