#pragma once

// Fake time for unit tests: now() moves only when the test says, and alarms
// go off when it passes them. run_until() alternates between running every
// ready handler and jumping to the next alarm, so a run that would take
// minutes of real time finishes in microseconds with no sleep.

#include <algorithm>
#include <functional>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "schedule/engine_time.hpp"
#include "schedule/signal.hpp"

namespace exportd::testing {

class ManualTime final : public EngineTime {
 public:
  explicit ManualTime(TimePoint start = TimePoint{} + std::chrono::hours(1000),
                      std::chrono::system_clock::time_point wall = std::chrono::system_clock::from_time_t(1'764'028'800))
      : now_(start), start_(start), wall_start_(wall) {}

  TimePoint now() const override { return now_; }
  std::chrono::system_clock::time_point wall_now() const override {
    return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - start_);
  }
  std::unique_ptr<Alarm> alarm(boost::asio::any_io_executor ex) override { return std::make_unique<ManualAlarm>(*this, ex); }

  // Moves time to `t` (never back) and sets off the alarms it passes.
  void advance_to(TimePoint t) {
    now_ = std::max(now_, t);
    for (auto* a : std::set<ManualAlarm*>(alarms_))
      if (a->expiry_ <= now_) a->ring();
  }
  void advance(Clock::duration d) { advance_to(now_ + d); }
  // The earliest alarm still to go off, or TimePoint::max().
  TimePoint next_alarm() const {
    TimePoint t = TimePoint::max();
    for (auto* a : alarms_)
      if (a->expiry_ > now_ && a->waiting_ > 0) t = std::min(t, a->expiry_);
    return t;
  }

  // Runs `io` until `done()` holds or fake time passes `limit`; true if done.
  bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, Clock::duration limit) {
    const auto end = now_ + limit;
    for (;;) {
      while (io.poll() > 0) {
        if (done()) return true;
      }
      if (io.stopped()) io.restart();
      if (done()) return true;
      const auto next = next_alarm();
      if (next == TimePoint::max() || next > end) {
        if (end > now_) advance_to(end);  // the time passes though nothing rings in it
        while (io.poll() > 0) {
        }
        return done();
      }
      advance_to(next);
    }
  }

 private:
  class ManualAlarm final : public Alarm {
   public:
    ManualAlarm(ManualTime& time, boost::asio::any_io_executor ex) : time_(time), signal_(ex) { time_.alarms_.insert(this); }
    ~ManualAlarm() override { time_.alarms_.erase(this); }
    void expires_at(TimePoint t) override {
      expiry_ = t;
      ring();
    }
    TimePoint expiry() const override { return expiry_; }
    void cancel() override { ring(); }
    boost::asio::awaitable<void> wait() override {
      if (expiry_ <= time_.now()) {
        // Come back on a later turn of the loop, as an expired timer does.
        co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
        co_return;
      }
      ++waiting_;
      co_await signal_.wait();
      --waiting_;
    }
    void ring() { signal_.notify_all(); }

    ManualTime& time_;
    Signal signal_;
    TimePoint expiry_ = TimePoint::max();
    int waiting_ = 0;
  };

  TimePoint now_;
  TimePoint start_;
  std::chrono::system_clock::time_point wall_start_;
  std::set<ManualAlarm*> alarms_;
};

}  // namespace exportd::testing
