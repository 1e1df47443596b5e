#pragma once

// The sweeper (SPEC §8): one coroutine that carries out what SweepMachine
// decides (sweeps on or off, the beat, a failed list call) and reads the
// project list's pages for one sweep, then says per job what the listing
// means (SweepPlan::take). It owns the sweeps' state; the jobs' schedule
// stays the exporter's, which it asks through SweepTarget.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "config/settings.hpp"
#include "engine/api_caller.hpp"
#include "engine/job_table.hpp"
#include "engine/run_rules.hpp"
#include "ops/log.hpp"
#include "schedule/engine_time.hpp"
#include "schedule/signal.hpp"
#include "schedule/sweep.hpp"

namespace exportd {

// What a sweep asks of the jobs it covers.
class SweepTarget {
 public:
  virtual ~SweepTarget() = default;
  // Listed as exported: its confirming read, now or after the read under way.
  // `unfinished`: when a sweep last saw it unfinished (its lag counts from then).
  virtual void confirm(std::uint32_t job, std::optional<TimePoint> unfinished) = 0;
  // Its own reads become a safety net (listed unfinished, `safety_net`), or
  // come back at once (handed back: no longer swept).
  virtual void reschedule(std::uint32_t job, bool safety_net) = 0;
};

class Sweeper {
 public:
  Sweeper(boost::asio::any_io_executor ex, const Config& config, RunMode mode, JobTable& jobs, ApiCaller& calls,
          SweepTarget& target, Logger& log, EngineTime& time);

  // Until stop(), or in batch mode until every job has ended.
  boost::asio::awaitable<void> run();
  void stop();
  void reconfigure(const PollingSettings& polling);
  // A job was submitted (or recovered while polling): sweeps may be worth it now.
  void on_new_jobs();
  // The first read of its own of a job submitted now (SweepMachine::first_read).
  TimePoint first_read(TimePoint first_poll, TimePoint now) const { return machine_.first_read(first_poll, now); }
  // A job's read found it done; `mark`: what the sweeps had shown of it.
  // Sweeps stop for the run if the list proves not to show finishes.
  void on_done(SweepMark mark);

  // Polled on its own schedule, and one a sweep may list.
  static bool candidate(const ExportJob& job);

 private:
  boost::asio::awaitable<bool> sweep();  // false: its first list call failed
  // Sweeps are off: every job they stood in for is read on its own again (due now).
  void hand_back(const std::string& why);
  // The jobs a sweep covers (`all`: with those the latest did not list).
  std::size_t coverage(bool all) const;
  bool over() const { return stopping_ || (mode_ == RunMode::batch && jobs_.idle()); }

  const Config& config_;
  RunMode mode_;
  JobTable& jobs_;
  ApiCaller& calls_;
  SweepTarget& target_;
  Logger& log_;
  EngineTime& time_;
  SweepMachine machine_;
  std::unique_ptr<Alarm> wake_;  // the next sweep, or the next look
  Signal news_;                  // jobs were submitted: count again
  bool stopping_ = false;
};

}  // namespace exportd
