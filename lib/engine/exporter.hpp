#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "api/transport.hpp"
#include "auth/token_source.hpp"
#include "config/config.hpp"
#include "jobs/export_job.hpp"
#include "jobs/job_spec.hpp"
#include "ops/log.hpp"
#include "ops/progress_line.hpp"
#include "ops/results.hpp"
#include "schedule/backoff.hpp"
#include "schedule/signal.hpp"

namespace exportd {

// How a batch ended.
struct RunSummary {
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t unreachable = 0;    // failed only because transient errors ran out
  std::optional<ApiError> fatal;    // credentials refused or TLS verification failed
};

// Drives every job of a batch on one executor. A fixed set of workers (one
// per pooled connection) takes whichever job is due next from one due-time
// queue, carries out the step the job machine asks for, and feeds the reply
// back; per job there is only an ExportJob and a queue entry, never a
// coroutine, socket or timer of its own.
class Exporter {
 public:
  Exporter(boost::asio::any_io_executor ex, const Config& config, Transport& transport, TokenSource& tokens,
           ResultsFile& results, Logger& log, UnitRandom random = default_unit_random());

  // Adds jobs (they are "accepted"); callable before and during run().
  void add(std::vector<JobSpec> specs);

  // Runs until every added job has ended, or until a fatal error.
  boost::asio::awaitable<RunSummary> run();

  BatchCounts counts() const;
  std::uint64_t requests() const { return requests_; }

 private:
  struct Due {
    TimePoint at;
    std::uint32_t job;
    bool operator>(const Due& o) const { return at > o.at || (at == o.at && job > o.job); }
  };

  boost::asio::awaitable<void> worker();
  boost::asio::awaitable<void> execute(std::uint32_t index);
  boost::asio::awaitable<std::variant<boost::json::object, ApiError>> call(ExportJob& job, const ApiRequest& request);
  std::optional<ApiRequest> submit_request(const JobSpec& spec, ApiError& error) const;
  void apply(std::uint32_t index, const JobEvent& event);
  void schedule(std::uint32_t index);
  void admit();
  void finish(std::uint32_t index, const JobEvent& event);
  void fail_run(const ApiError& error);
  std::chrono::system_clock::time_point wall(TimePoint t) const;

  boost::asio::any_io_executor ex_;
  const Config& config_;
  Transport& transport_;
  TokenSource& tokens_;
  ResultsFile& results_;
  Logger& log_;
  UnitRandom random_;
  JobMachine machine_;

  std::deque<JobSpec> specs_;
  std::deque<ExportJob> jobs_;
  std::deque<std::uint32_t> waiting_;  // accepted, not yet admitted (max_active_jobs)
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  boost::asio::steady_timer wake_;
  Signal idle_;  // a worker ended

  std::uint32_t admitted_ = 0;  // between admission and end
  std::uint32_t in_flight_ = 0; // submitted, not ended
  std::uint32_t workers_ = 0;
  std::uint64_t requests_ = 0;
  bool stopping_ = false;
  bool flush_posted_ = false;
  RunSummary summary_;
  const TimePoint steady_origin_ = Clock::now();
  const std::chrono::system_clock::time_point wall_origin_ = std::chrono::system_clock::now();
};

}  // namespace exportd
