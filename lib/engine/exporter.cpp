#include "engine/exporter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "jobs/job_file.hpp"
#include "spool/spool.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

std::string percent(double p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", p);
  return buf;
}

bool fatal(const ApiError& e) { return e.kind == FailureKind::credentials || e.kind == FailureKind::tls; }

}  // namespace

std::string tagged_project_name(const std::string& name, const std::string& batch, const std::string& key) {
  const std::string tag = "exportd-" + content_digest(batch + "/" + key);
  return name.empty() ? tag : name + " [" + tag + "]";
}

Exporter::Exporter(asio::any_io_executor ex, const Config& config, Transport& transport, TokenSource& tokens,
                   JobLedger& ledger, Logger& log, Mode mode, UnitRandom random)
    : ex_(ex),
      config_(config),
      transport_(transport),
      tokens_(tokens),
      ledger_(ledger),
      log_(log),
      mode_(mode),
      random_(std::move(random)),
      machine_(PollPolicy(config.polling), RetryPolicy(config.retry)),
      wake_(ex, TimePoint::max()),
      breaker_(Backoff(config.retry.initial_backoff, config.retry.max_backoff), 5),
      breaker_timer_(ex, TimePoint::max()),
      worker_left_(ex) {}

void Exporter::add_batch(const std::string& batch_id, std::vector<JobSpec> specs, std::vector<RecoveredJob> recovered) {
  const auto batch = static_cast<std::uint32_t>(batches_.size());
  batches_.push_back(Batch{batch_id, static_cast<std::uint32_t>(specs.size())});
  const auto now = Clock::now();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    // An ended job's slot is reused, so a daemon that runs for months holds
    // only the jobs it is working on.
    std::uint32_t index = static_cast<std::uint32_t>(jobs_.size());
    if (!free_slots_.empty()) {
      index = free_slots_.back();
      free_slots_.pop_back();
    }
    ExportJob job;
    job.spec = index;
    job.batch = batch;
    const RecoveredJob* r = i < recovered.size() ? &recovered[i] : nullptr;
    const char* how = "accepted";
    if (r != nullptr) {
      job.submissions = r->submissions;
      if (r->state == Recovery::in_doubt) {
        job.state = JobState::verifying;
        how = "recovered_in_doubt";
      } else if (r->state == Recovery::submitted) {
        // Polling resumes; no second export. The deadline still counts from the original submit.
        job.state = JobState::polling;
        job.project_id = r->project_id;
        job.submitted_at = steady(std::chrono::system_clock::time_point(std::chrono::milliseconds(r->submitted_at_ms)));
        how = "recovered_submitted";
      }
    }
    log_.info(how, {{"job", specs[i].key},
                    {"batch", batch_id},
                    {"kind", specs[i].kind == JobKind::export_project ? "export" : "create"},
                    {"project", job.project_id.empty() ? specs[i].project_id : job.project_id}});
    if (job.state == JobState::polling) ++in_flight_;
    if (index == jobs_.size()) {
      specs_.push_back(std::move(specs[i]));
      jobs_.push_back(std::move(job));
    } else {
      specs_[index] = std::move(specs[i]);
      jobs_[index] = std::move(job);
    }
    ++accepted_;
    waiting_.push_back(index);
  }
  admit();
}

BatchCounts Exporter::counts() const {
  BatchCounts c;
  c.total = accepted_;
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
  const auto state = jobs_[index].state;
  due_.push(state == JobState::queued || state == JobState::verifying ? Lane::submit : Lane::poll, at, index);
  if (at < wake_.expiry()) wake_.expires_at(at);  // wakes the idle workers to look again
}

void Exporter::stop() {
  stopping_ = true;
  wake_.cancel();
  breaker_timer_.cancel();
}

std::string Exporter::health() const {
  if (!breaker_.is_open()) return "ok";
  const auto in = std::chrono::duration_cast<Millis>(breaker_.next_probe() - Clock::now());
  return held_because_ + "; next try in " + format_eta(std::max(in, Millis(0)));
}

void Exporter::reconfigure(const Config& config) {
  config_ = config;
  machine_ = JobMachine(PollPolicy(config.polling), RetryPolicy(config.retry));
  // One worker per pooled connection: more start now, extra ones leave after their current step.
  if (running_) spawn_workers();
  admit();
  wake_.cancel();  // idle workers look again (and extra ones leave)
}

void Exporter::spawn_workers() {
  const auto target = std::max<std::uint32_t>(1, config_.limits.max_connections);
  while (active_workers_ < target) {
    ++workers_;
    ++active_workers_;
    asio::co_spawn(ex_, worker(), [this](std::exception_ptr e) {
      --workers_;
      worker_left_.notify_all();
      if (e) std::rethrow_exception(e);  // a disk error: stop the loop rather than act on unsaved state
    });
  }
}

awaitable<RunSummary> Exporter::run() {
  running_ = true;
  spawn_workers();
  while (workers_ > 0) co_await worker_left_.wait();
  co_return summary_;
}

awaitable<void> Exporter::worker() {
  for (;;) {
    if (stopping_) co_return;
    if (active_workers_ > std::max<std::uint32_t>(1, config_.limits.max_connections)) {
      --active_workers_;  // fewer connections after a reload
      co_return;
    }
    if (mode_ == Mode::batch && idle()) {
      stopping_ = true;  // every job has ended
      wake_.cancel();
      co_return;
    }
    if (const auto index = due_.pop_due(Clock::now())) {
      co_await execute(*index);
      continue;
    }
    const auto next = due_.next();
    if (wake_.expiry() != next) wake_.expires_at(next);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

awaitable<void> Exporter::execute(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  switch (machine_.step(job, Clock::now())) {
    case StepKind::nothing: co_return;
    case StepKind::expire: co_await apply(index, machine_.expire(job)); co_return;
    case StepKind::submit: co_await submit(index); co_return;
    case StepKind::probe: co_await probe(index); co_return;
    case StepKind::poll: co_await poll(index); co_return;
  }
}

std::optional<ApiRequest> Exporter::submit_request(const ExportJob& job, ApiError& error) const {
  const JobSpec& spec = specs_[job.spec];
  if (spec.kind == JobKind::export_project) return export_request(config_.api.endpoint, spec);
  std::string why;
  auto scenes = load_scenes(spec.scenes_file, why);
  if (!scenes) {
    error = ApiError{FailureKind::rejected, 0, "scenes_file", why, {}};
    return std::nullopt;
  }
  JobSpec named = spec;
  named.name = tagged_project_name(spec.name, batches_[job.batch].id, spec.key);
  return create_request(config_.api.endpoint, named, *scenes);
}

awaitable<void> Exporter::submit(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = specs_[job.spec];
  ApiError error;
  auto request = submit_request(job, error);
  if (!request) {
    job.state = JobState::failed;
    co_await apply(index, {JobEvent::Kind::failed, {}, {}, error});
    co_return;
  }
  co_await ledger_.submit_started(batches_[job.batch].id, spec.key);
  auto data = co_await call(job, *request);
  if (stopping_) co_return;
  const auto now = Clock::now();
  if (auto* e = std::get_if<ApiError>(&data)) {
    co_await apply(index, failure_event(job, *e, now));
    co_return;
  }
  auto reply = read_submit(std::get<boost::json::object>(data));
  if (auto* e = std::get_if<ApiError>(&reply)) {
    co_await apply(index, failure_event(job, *e, now));
    co_return;
  }
  const auto& accepted = std::get<SubmitReply>(reply);
  const std::string_view own = spec.kind == JobKind::export_project ? std::string_view(spec.project_id) : "";
  auto event = machine_.on_submitted(job, accepted, now, own);
  if (job.state == JobState::polling) {
    if (accepted.project_id.empty())
      log_.warning("accepted_without_id", {{"job", spec.key}, {"polling", job.project_id},
                                           {"why", "the export reply held no usable projectId; the project itself is polled"}});
    co_await ledger_.submitted(batches_[job.batch].id, spec.key, job.project_id, wall(now));
    ++in_flight_;
  }
  co_await apply(index, std::move(event));
}

// After a crash between "submit started" and "submitted": an export job asks
// for the project's progress (a running export means ours got through); a
// create job looks for its tagged name in the project list.
awaitable<void> Exporter::probe(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = specs_[job.spec];
  const bool create = spec.kind == JobKind::create_project;
  // A named request: g++ 12 mishandles a conditional temporary inside co_await.
  const ApiRequest request =
      create ? list_projects_request(config_.api.endpoint) : progress_request(config_.api.endpoint, spec.project_id);
  auto data = co_await call(job, request);
  if (stopping_) co_return;
  const auto now = Clock::now();
  std::optional<std::string> running;
  if (auto* e = std::get_if<ApiError>(&data)) {
    if (is_transient(e->kind) || fatal(*e)) {
      co_await apply(index, failure_event(job, *e, now));
      co_return;
    }
    // The API does not know an export of it: the submit never took effect.
  } else if (create) {
    const auto wanted = tagged_project_name(spec.name, batches_[job.batch].id, spec.key);
    for (const auto& p : read_project_list(std::get<boost::json::object>(data)))
      if (p.name == wanted) running = p.id;
  } else {
    auto reply = read_progress(std::get<boost::json::object>(data));
    // Only a running export is surely ours; 100 % may be an earlier export of the same project.
    if (auto* p = std::get_if<ProgressReply>(&reply); p != nullptr && p->progress < 100.0 && !p->failed_state())
      running = spec.project_id;
  }
  auto event = machine_.on_probe(job, running, now);
  if (running) {
    co_await ledger_.submitted(batches_[job.batch].id, spec.key, *running, wall(now));
    ++in_flight_;
  }
  co_await apply(index, std::move(event));
}

awaitable<void> Exporter::poll(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const ApiRequest request = progress_request(config_.api.endpoint, job.project_id);
  auto data = co_await call(job, request);
  if (stopping_) co_return;
  const auto now = Clock::now();
  if (auto* e = std::get_if<ApiError>(&data)) {
    co_await apply(index, failure_event(job, *e, now));
    co_return;
  }
  auto reply = read_progress(std::get<boost::json::object>(data));
  if (auto* ok = std::get_if<ProgressReply>(&reply)) co_await apply(index, machine_.on_progress(job, *ok, now));
  else co_await apply(index, failure_event(job, std::get<ApiError>(reply), now));
}

awaitable<void> Exporter::pass_breaker() {
  for (;;) {
    const auto a = breaker_.admit(Clock::now());
    if (a.verdict != CircuitBreaker::Verdict::wait || stopping_) co_return;
    if (breaker_timer_.expiry() != a.until) breaker_timer_.expires_at(a.until);
    co_await breaker_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void Exporter::note_outcome(ApiError* error) {
  const auto now = Clock::now();
  const bool was_open = breaker_.is_open();
  const bool api_fault = error != nullptr && (error->kind == FailureKind::transport ||
                                              error->kind == FailureKind::malformed ||
                                              (error->kind == FailureKind::overloaded && error->http_status != 429));
  const bool refused = error != nullptr && fatal(*error);
  if (refused && mode_ == Mode::daemon) {
    // The daemon waits for someone to fix the key or the certificate.
    breaker_.hold(now);
    held_because_ = error->kind == FailureKind::credentials ? "the API refused the credentials (" + error->message + ")"
                                                            : error->message;
  } else if (api_fault) {
    breaker_.on_failure(now);
    if (!was_open && breaker_.is_open()) held_because_ = "API unreachable (" + error->message + ")";
  } else if (!refused) {
    breaker_.on_success();
    if (was_open) {
      log_.warning("api_back", {{"after", format_eta(std::chrono::duration_cast<Millis>(now - breaker_.open_since()))}});
      breaker_timer_.cancel();  // everybody waiting goes on
    }
  }
  if (breaker_.is_open()) {
    if (error != nullptr && (api_fault || refused)) error->api_down = mode_ == Mode::daemon || !refused;
    if (breaker_timer_.expiry() != breaker_.next_probe()) breaker_timer_.expires_at(breaker_.next_probe());
    if (!was_open || api_fault || refused)
      log_.warning("api_held", {{"why", held_because_},
                                {"probes_failed", std::to_string(breaker_.failed_probes())},
                                {"next_try_in", format_eta(std::chrono::duration_cast<Millis>(breaker_.next_probe() - now))}});
    if (mode_ == Mode::batch && breaker_.failed_probes() >= config_.retry.max_attempts)
      fail_run(ApiError{FailureKind::transport, 0, "unreachable",
                        held_because_ + ": " + std::to_string(breaker_.failed_probes()) +
                            " probes failed; unfinished jobs resume at the next run",
                        {}});
  }
}

JobEvent Exporter::failure_event(ExportJob& job, const ApiError& error, TimePoint now) {
  if (error.api_down) return machine_.on_unavailable(job, error, breaker_.next_probe(), now);
  return machine_.on_failure(job, error, now, random_());
}

awaitable<std::variant<boost::json::object, ApiError>> Exporter::call(ExportJob& job, const ApiRequest& request) {
  for (int pass = 0;; ++pass) {
    co_await pass_breaker();
    if (stopping_) co_return ApiError{FailureKind::transport, 0, "stopping", "exportd is stopping", {}};
    auto token = co_await tokens_.get();
    if (auto* e = std::get_if<ApiError>(&token)) {
      note_outcome(e);
      co_return *e;
    }
    const auto& tok = std::get<std::string>(token);
    ++job.requests;
    ++requests_;
    if (request.call == ApiCall::export_project || request.call == ApiCall::create_project) ++job.submissions;
    auto reply = co_await transport_.exchange(request, tok);
    if (auto* e = std::get_if<ApiError>(&reply)) {
      note_outcome(e);
      co_return *e;
    }
    redact(std::get<HttpReply>(reply).body, tok);  // an API that echoes the request must not put the token in a log
    auto env = parse_envelope(std::get<HttpReply>(reply), std::chrono::system_clock::now());
    auto* e = std::get_if<ApiError>(&env);
    note_outcome(e);
    if (e != nullptr && e->kind == FailureKind::unauthorized && pass == 0) {
      // Renew once for everybody (single flight in TokenSource), then replay.
      log_.debug("token_refused", {{"job", specs_[job.spec].key}, {"call", to_string(request.call)}, {"code", e->code}});
      tokens_.reject(tok);
      continue;
    }
    co_return env;
  }
}

awaitable<void> Exporter::apply(std::uint32_t index, JobEvent event) {
  ExportJob& job = jobs_[index];
  const std::string& key = specs_[job.spec].key;
  if (event.error && fatal(*event.error) && mode_ == Mode::batch) {
    // Not the job's fault: it stays as the journal has it and the run stops.
    fail_run(*event.error);
    co_return;
  }
  switch (event.kind) {
    case JobEvent::Kind::submitted:
      log_.info("submitted", {{"job", key}, {"project", job.project_id}, {"attempt", std::to_string(job.submissions)}});
      schedule(index);
      co_return;
    case JobEvent::Kind::adopted:
      log_.info("adopted", {{"job", key}, {"project", job.project_id}, {"why", "the export sent before a restart is running"}});
      schedule(index);
      co_return;
    case JobEvent::Kind::resubmit:
      log_.info("resubmitting", {{"job", key}, {"why", "the export sent before a restart never reached the API"}});
      schedule(index);
      co_return;
    case JobEvent::Kind::progress:
      log_.info("progress", {{"job", key}, {"project", job.project_id}, {"progress", percent(job.progress)},
                             {"next_poll_in", format_duration(event.delay)}});
      schedule(index);
      co_return;
    case JobEvent::Kind::retrying:
      log_.info("retrying", {{"job", key}, {"state", to_string(job.state)}, {"code", event.error->code},
                             {"message", event.error->message}, {"delay", format_duration(event.delay)},
                             {"failures", std::to_string(job.call_failures)}});
      schedule(index);
      co_return;
    default:
      co_await finish(index, event);
  }
}

awaitable<void> Exporter::finish(std::uint32_t index, const JobEvent& event) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = specs_[job.spec];
  Batch& batch = batches_[job.batch];
  JobResult r;
  r.job = spec.key;
  r.batch = batch.id;
  r.project_id = job.project_id.empty() ? spec.project_id : job.project_id;
  r.status = std::string(to_string(job.state));
  r.download_url = event.download_url;
  r.error = event.error;
  if (job.submitted_at != TimePoint{}) r.submitted_at = wall(job.submitted_at);
  r.finished_at = std::chrono::system_clock::now();
  r.attempts = job.submissions;
  r.requests = job.requests;
  co_await ledger_.ended(batch.id, r);

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
  admit();
  if (--batch.open == 0) co_await ledger_.batch_ended(batch.id);
  specs_[index] = JobSpec{};  // the slot is free for the next job
  jobs_[index] = ExportJob{};
  free_slots_.push_back(index);
  if (idle()) wake_.cancel();  // let idle workers see the end
}

void Exporter::fail_run(const ApiError& error) {
  if (!summary_.fatal) {
    summary_.fatal = error;
    log_.error("stopped", {{"reason", error.code}, {"message", error.message}});
  }
  stop();
}

std::chrono::system_clock::time_point Exporter::wall(TimePoint t) const {
  return wall_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - steady_origin_);
}

TimePoint Exporter::steady(std::chrono::system_clock::time_point t) const {
  return steady_origin_ + std::chrono::duration_cast<Clock::duration>(t - wall_origin_);
}

}  // namespace exportd
