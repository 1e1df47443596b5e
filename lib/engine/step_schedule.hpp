#pragma once

// When each job is stepped next, in one place: the API's due queue (its
// submit and poll lanes) and the downloads', the alarms idle workers wait
// on, and the hints that move a job's next read to now (a hook, a sweep's
// "exported") or, while the job is mid-step, to right after that step.
// The times themselves are JobMachine's to decide; this carries them out.

#include <cstdint>
#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "engine/job_table.hpp"
#include "jobs/export_job.hpp"
#include "schedule/due_queue.hpp"
#include "schedule/engine_time.hpp"

namespace exportd {

class StepSchedule {
 public:
  enum class Queue : std::uint8_t {
    api,        // submits, probes, polls, expiries: the API workers
    downloads,  // download tries: the download workers
    deliveries,  // delivery commands: the delivery workers (deliver.max_concurrent)
  };

  // `downloads`: the downloads' due queue (DownloadStage's).
  StepSchedule(boost::asio::any_io_executor ex, EngineTime& time, JobTable& jobs, const JobMachine& machine,
               DueQueues& downloads);

  // The job is stepped at its `due`: by a download worker when it has a
  // link to try, else by an API worker.
  void schedule(std::uint32_t index);
  // A hint that the job may be done: its progress is read now, or once more
  // after the step under way (which may have read before the finish).
  void read_now(std::uint32_t index);
  // A sweep's listing: the job's own reads become a safety net, or (handed
  // back) come back at once. A job mid-step is left to its step.
  void reschedule(std::uint32_t index, bool safety_net);

  // The next job of `queue` due now, marked busy for its step; entries made
  // stale by a later schedule() are skipped.
  std::optional<std::uint32_t> take(Queue queue);
  // Its step is over: no longer busy; a hint that came meanwhile reads it once more.
  void done(std::uint32_t index);
  // Until the next job of `queue` is due, or wake().
  boost::asio::awaitable<void> wait(Queue queue);
  // Every idle worker looks again (a stop, a reload, the end of a batch).
  void wake();

 private:
  DueQueues& due(Queue queue) {
    return queue == Queue::api ? api_ : queue == Queue::downloads ? downloads_ : deliveries_;
  }
  Alarm& alarm(Queue queue) {
    return queue == Queue::api ? *api_wake_ : queue == Queue::downloads ? *download_wake_ : *deliver_wake_;
  }

  EngineTime& time_;
  JobTable& jobs_;
  const JobMachine& machine_;
  DueQueues api_;
  DueQueues& downloads_;
  std::unique_ptr<Alarm> api_wake_;       // idle API workers: the next due job
  std::unique_ptr<Alarm> download_wake_;  // idle download workers: the next due download
  DueQueues deliveries_;
  std::unique_ptr<Alarm> deliver_wake_;  // idle delivery workers: the next due delivery
};

}  // namespace exportd
