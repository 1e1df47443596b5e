#include "engine/exporter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "jobs/job_file.hpp"

namespace exportd {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

std::string percent(double p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", p);
  return buf;
}

}  // namespace

Exporter::Exporter(asio::any_io_executor ex, const Config& config, Transport& transport, TokenSource& tokens,
                   ResultsFile& results, Logger& log, UnitRandom random)
    : ex_(ex),
      config_(config),
      transport_(transport),
      tokens_(tokens),
      results_(results),
      log_(log),
      random_(std::move(random)),
      machine_(PollPolicy(config.polling), RetryPolicy(config.retry)),
      wake_(ex, TimePoint::max()),
      idle_(ex) {}

void Exporter::add(std::vector<JobSpec> specs) {
  for (auto& spec : specs) {
    const auto index = static_cast<std::uint32_t>(jobs_.size());
    log_.info("accepted", {{"job", spec.key},
                           {"kind", spec.kind == JobKind::export_project ? "export" : "create"},
                           {"project", spec.project_id}});
    specs_.push_back(std::move(spec));
    ExportJob job;
    job.spec = index;
    jobs_.push_back(std::move(job));
    waiting_.push_back(index);
  }
  admit();
}

BatchCounts Exporter::counts() const {
  BatchCounts c;
  c.total = jobs_.size();
  c.done = summary_.succeeded + summary_.failed + summary_.timed_out;
  c.failed = summary_.failed + summary_.timed_out;
  c.in_flight = in_flight_;
  return c;
}

void Exporter::admit() {
  while (!waiting_.empty() && admitted_ < config_.limits.max_active_jobs) {
    const auto index = waiting_.front();
    waiting_.pop_front();
    ++admitted_;
    jobs_[index].due = Clock::now();
    schedule(index);
  }
}

void Exporter::schedule(std::uint32_t index) {
  const auto at = jobs_[index].due;
  due_.push({at, index});
  if (at < wake_.expiry()) wake_.expires_at(at);  // wakes the idle workers to look again
}

awaitable<RunSummary> Exporter::run() {
  const auto n = std::max<std::uint32_t>(1, config_.limits.max_connections);
  for (std::uint32_t i = 0; i < n; ++i) {
    ++workers_;
    asio::co_spawn(ex_, worker(), [this](std::exception_ptr e) {
      --workers_;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          fail_run(ApiError{FailureKind::transport, 0, "internal", std::string("worker stopped: ") + ex.what(), {}});
        }
      }
      idle_.notify_all();
    });
  }
  while (workers_ > 0) co_await idle_.wait();
  results_.flush();
  co_return summary_;
}

awaitable<void> Exporter::worker() {
  for (;;) {
    if (stopping_) co_return;
    if (admitted_ == 0 && waiting_.empty()) {
      stopping_ = true;  // every job has ended
      wake_.cancel();
      co_return;
    }
    if (!due_.empty() && due_.top().at <= Clock::now()) {
      const auto index = due_.top().job;
      due_.pop();
      co_await execute(index);
      continue;
    }
    const auto next = due_.empty() ? TimePoint::max() : due_.top().at;
    if (wake_.expiry() != next) wake_.expires_at(next);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

std::optional<ApiRequest> Exporter::submit_request(const JobSpec& spec, ApiError& error) const {
  if (spec.kind == JobKind::export_project) return export_request(config_.api.endpoint, spec);
  std::string why;
  auto scenes = load_scenes(spec.scenes_file, why);
  if (!scenes) {
    error = ApiError{FailureKind::rejected, 0, "scenes_file", why, {}};
    return std::nullopt;
  }
  return create_request(config_.api.endpoint, spec, *scenes);
}

awaitable<std::variant<boost::json::object, ApiError>> Exporter::call(ExportJob& job, const ApiRequest& request) {
  for (int pass = 0;; ++pass) {
    auto token = co_await tokens_.get();
    if (auto* e = std::get_if<ApiError>(&token)) co_return *e;
    const auto& tok = std::get<std::string>(token);
    ++job.requests;
    ++requests_;
    auto reply = co_await transport_.exchange(request, tok);
    if (auto* e = std::get_if<ApiError>(&reply)) co_return *e;
    auto env = parse_envelope(std::get<HttpReply>(reply), std::chrono::system_clock::now());
    const auto* e = std::get_if<ApiError>(&env);
    if (e != nullptr && e->kind == FailureKind::unauthorized && pass == 0) {
      // Renew once for everybody (single flight in TokenSource), then replay.
      log_.debug("token_refused", {{"job", specs_[job.spec].key}, {"call", to_string(request.call)}, {"code", e->code}});
      tokens_.reject(tok);
      continue;
    }
    co_return env;
  }
}

awaitable<void> Exporter::execute(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = specs_[job.spec];
  const auto step = machine_.step(job, Clock::now());
  if (step == StepKind::nothing) co_return;
  if (step == StepKind::expire) {
    apply(index, machine_.expire(job));
    co_return;
  }
  if (step == StepKind::submit) {
    ApiError error;
    auto request = submit_request(spec, error);
    if (!request) {
      job.state = JobState::failed;
      apply(index, {JobEvent::Kind::failed, {}, {}, error});
      co_return;
    }
    ++job.submissions;
    auto data = co_await call(job, *request);
    if (stopping_) co_return;
    const auto now = Clock::now();
    std::variant<SubmitReply, ApiError> reply = std::holds_alternative<ApiError>(data)
                                                    ? std::variant<SubmitReply, ApiError>(std::get<ApiError>(data))
                                                    : read_submit(std::get<boost::json::object>(data));
    if (auto* ok = std::get_if<SubmitReply>(&reply)) {
      ++in_flight_;
      apply(index, machine_.on_submitted(job, *ok, now));
    } else {
      apply(index, machine_.on_failure(job, std::get<ApiError>(reply), now, random_()));
    }
    co_return;
  }
  auto data = co_await call(job, progress_request(config_.api.endpoint, job.project_id));
  if (stopping_) co_return;
  const auto now = Clock::now();
  std::variant<ProgressReply, ApiError> reply = std::holds_alternative<ApiError>(data)
                                                    ? std::variant<ProgressReply, ApiError>(std::get<ApiError>(data))
                                                    : read_progress(std::get<boost::json::object>(data));
  if (auto* ok = std::get_if<ProgressReply>(&reply)) apply(index, machine_.on_progress(job, *ok, now));
  else apply(index, machine_.on_failure(job, std::get<ApiError>(reply), now, random_()));
}

void Exporter::apply(std::uint32_t index, const JobEvent& event) {
  ExportJob& job = jobs_[index];
  const std::string& key = specs_[job.spec].key;
  if (event.error && (event.error->kind == FailureKind::credentials || event.error->kind == FailureKind::tls)) {
    // Not the job's fault: the job stays unfinished and the run stops.
    if (job.state != JobState::polling) job.state = JobState::queued;
    fail_run(*event.error);
    return;
  }
  switch (event.kind) {
    case JobEvent::Kind::submitted:
      log_.info("submitted", {{"job", key}, {"project", job.project_id}, {"attempt", std::to_string(job.submissions)}});
      schedule(index);
      return;
    case JobEvent::Kind::progress:
      log_.info("progress", {{"job", key}, {"project", job.project_id}, {"progress", percent(job.progress)},
                             {"next_poll_in", format_duration(event.delay)}});
      schedule(index);
      return;
    case JobEvent::Kind::retrying:
      log_.info("retrying", {{"job", key}, {"state", to_string(job.state)}, {"code", event.error->code},
                             {"message", event.error->message}, {"delay", format_duration(event.delay)},
                             {"failures", std::to_string(job.call_failures)}});
      schedule(index);
      return;
    default:
      finish(index, event);
  }
}

void Exporter::finish(std::uint32_t index, const JobEvent& event) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = specs_[job.spec];
  JobResult r;
  r.job = spec.key;
  r.project_id = job.project_id.empty() ? spec.project_id : job.project_id;
  r.status = std::string(to_string(job.state));
  r.download_url = event.download_url;
  r.error = event.error;
  if (job.submitted_at != TimePoint{}) r.submitted_at = wall(job.submitted_at);
  r.finished_at = std::chrono::system_clock::now();
  r.attempts = job.submissions;
  r.requests = job.requests;
  results_.append(r);
  if (!flush_posted_) {
    flush_posted_ = true;
    asio::post(ex_, [this] {
      flush_posted_ = false;
      results_.flush();
    });
  }

  if (job.state == JobState::succeeded) {
    ++summary_.succeeded;
    log_.info("succeeded", {{"job", spec.key}, {"project", r.project_id}, {"download_url", r.download_url},
                            {"requests", std::to_string(job.requests)}});
  } else {
    if (job.state == JobState::timed_out) ++summary_.timed_out;
    else ++summary_.failed;
    if (event.error && is_transient(event.error->kind)) ++summary_.unreachable;
    log_.warning(job.state == JobState::timed_out ? "timed_out" : "failed",
                 {{"job", spec.key}, {"project", r.project_id}, {"code", r.error ? r.error->code : ""},
                  {"message", r.error ? r.error->message : ""}});
  }
  if (job.submitted_at != TimePoint{}) --in_flight_;
  --admitted_;
  job.project_id.clear();
  job.project_id.shrink_to_fit();
  admit();
  if (admitted_ == 0 && waiting_.empty()) wake_.cancel();  // let idle workers see the end
}

void Exporter::fail_run(const ApiError& error) {
  if (!summary_.fatal) {
    summary_.fatal = error;
    log_.error("stopped", {{"reason", error.code}, {"message", error.message}});
  }
  stopping_ = true;
  wake_.cancel();
}

std::chrono::system_clock::time_point Exporter::wall(TimePoint t) const {
  return wall_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - steady_origin_);
}

}  // namespace exportd
