#include "engine/step_schedule.hpp"

namespace exportd {

StepSchedule::StepSchedule(boost::asio::any_io_executor ex, EngineTime& time, JobTable& jobs,
                           const JobMachine& machine, DueQueues& downloads)
    : time_(time),
      jobs_(jobs),
      machine_(machine),
      downloads_(downloads),
      api_wake_(time.alarm(ex)),
      download_wake_(time.alarm(ex)),
      deliver_wake_(time.alarm(ex)) {}

void StepSchedule::schedule(std::uint32_t index) {
  const ExportJob& job = jobs_[index];
  const auto at = job.due;
  if (job.state == JobState::delivering) {
    deliveries_.push(Lane::poll, at, index);
    if (at < deliver_wake_->expiry()) deliver_wake_->expires_at(at);
    return;
  }
  if (job.state == JobState::downloading && !job.link_refused) {
    downloads_.push(Lane::poll, at, index);
    if (at < download_wake_->expiry()) download_wake_->expires_at(at);
    return;
  }
  api_.push(job.state == JobState::queued || job.state == JobState::in_doubt ? Lane::submit : Lane::poll, at, index);
  if (at < api_wake_->expiry()) api_wake_->expires_at(at);  // wakes the idle workers to look again
}

void StepSchedule::read_now(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  if (job.busy) {
    job.hint_pending = true;  // the read under way may have gone out before the finish
  } else if (machine_.on_hint(job, time_.now())) {
    schedule(index);
  }
}

void StepSchedule::reschedule(std::uint32_t index, bool safety_net) {
  ExportJob& job = jobs_[index];
  if (job.busy) return;  // the step under way schedules it
  if (safety_net ? machine_.on_swept(job, time_.now()) : machine_.on_handed_back(job, time_.now())) schedule(index);
}

std::optional<std::uint32_t> StepSchedule::take(Queue queue) {
  while (const auto next = due(queue).pop_due(time_.now())) {
    ExportJob& job = jobs_[next->job];
    if (next->at != job.due || job.busy) continue;  // stale: the job was given another time since
    job.busy = true;
    return next->job;
  }
  return std::nullopt;
}

void StepSchedule::done(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  job.busy = false;
  if (!job.hint_pending) return;
  job.hint_pending = false;
  if (machine_.on_hint(job, time_.now())) schedule(index);
}

boost::asio::awaitable<void> StepSchedule::wait(Queue queue) {
  const auto next = due(queue).next();
  if (alarm(queue).expiry() != next) alarm(queue).expires_at(next);
  co_await alarm(queue).wait();
}

void StepSchedule::wake() {
  api_wake_->cancel();
  download_wake_->cancel();
  deliver_wake_->cancel();
}

}  // namespace exportd
