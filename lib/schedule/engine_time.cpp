#include "schedule/engine_time.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace exportd {

namespace {

class TimerAlarm final : public Alarm {
 public:
  explicit TimerAlarm(boost::asio::any_io_executor ex) : timer_(ex, TimePoint::max()) {}
  void expires_at(TimePoint t) override { timer_.expires_at(t); }
  TimePoint expiry() const override { return timer_.expiry(); }
  void cancel() override { timer_.cancel(); }
  boost::asio::awaitable<void> wait() override {
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

 private:
  boost::asio::steady_timer timer_;
};

class RealTime final : public EngineTime {
 public:
  TimePoint now() const override { return Clock::now(); }
  std::chrono::system_clock::time_point wall_now() const override { return std::chrono::system_clock::now(); }
  std::unique_ptr<Alarm> alarm(boost::asio::any_io_executor ex) override { return std::make_unique<TimerAlarm>(ex); }
};

}  // namespace

EngineTime& real_time() {
  static RealTime time;
  return time;
}

}  // namespace exportd
