#include "engine/exporter.hpp"

#include <boost/asio/co_spawn.hpp>

#include "engine/job_report.hpp"
#include "engine/recovery.hpp"
#include "jobs/create_lookup.hpp"
#include "jobs/probe.hpp"

namespace exportd {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

// A call's outcome read as the reply it should be: the call's own error, or the reader's verdict.
template <class Reply, class Reader>
ApiResult<Reply> read_as(const ApiResult<boost::json::object>& data, Reader read) {
  if (!data) return data.error();
  return read(*data);
}

}  // namespace

Exporter::Exporter(asio::any_io_executor ex, const Config& config, Transport& transport, TokenSource& tokens,
                   JobLedger& ledger, Logger& log, Mode mode, EngineTime& time, UnitRandom random, ExporterParts parts)
    : ex_(ex),
      config_(config),
      ledger_(ledger),
      log_(log),
      mode_(mode),
      time_(time),
      random_(std::move(random)),
      machine_(PollPolicy(config.polling, config.webhook.safety_poll), RetryPolicy(config.retry),
               config.download.enabled(), parts.deliverer != nullptr),
      calls_(ex, rules_settings(), transport, tokens, log, time, [this] { stop(); }),
      sweeper_(ex, config_, mode, jobs_, calls_, *this, log, time),
      downloader_(config_, jobs_, machine_, ledger, log, time, random_, own_metrics_),
      deliveries_(parts.deliverer, ledger),
      schedule_(ex, time, jobs_, machine_, downloader_.stage().due()),
      crew_(ex),
      clocks_(time) {
  if (parts.hook_keys != nullptr) hooks_.use(*parts.hook_keys, parts.public_url);
  if (parts.fetcher != nullptr) downloader_.use(*parts.fetcher);
  if (parts.metrics != nullptr) {
    metrics_ = parts.metrics;
    downloader_.use_metrics(*parts.metrics);
  }
  restart_ = std::move(parts.restart);
}

RunRules::Settings Exporter::rules_settings() const {
  return {mode_, Backoff(config_.retry.initial_backoff, config_.retry.max_backoff), 5, config_.retry.max_attempts};
}

void Exporter::add_batch(const std::string& batch_id, std::vector<JobSpec> specs, std::vector<RecoveredJob> recovered) {
  const auto batch = jobs_.open_batch(batch_id, static_cast<std::uint32_t>(specs.size()));
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto index = jobs_.take_slot();
    ExportJob job;
    job.batch = batch;
    // Its own webhook_url wins; otherwise the API calls our receiver.
    job.hooked = hooks_.on() && specs[i].webhook_url.empty();
    static const RecoveredJob fresh;
    const RecoveredJob& r = i < recovered.size() ? recovered[i] : fresh;
    const auto back =
        comeback(r, downloader_.on(), job.hooked, restart_, clocks_.wall(time_.now()), config_.webhook.safety_poll);
    job.submissions = r.submissions;
    job.creates = specs[i].kind == JobKind::create_project;
    if (back.state) {
      const bool accepted = *back.state != JobState::in_doubt;
      machine_.on_recovered(job, *back.state, accepted ? r.project_id : "",
                            accepted ? clocks_.steady(r.submitted_at()) : TimePoint{}, r.reach, time_.now());
    }
    if (back.state == JobState::delivering) deliveries_.recovered(index, r.delivery);
    if (back.state == JobState::downloading)  // it resumes from the bytes on disk
      downloader_.stage().resume(index, r.download.url, r.download.file, r.download.validator, r.download.total,
                                 r.download.checkpoint);
    if (back.first_read)
      job.due = std::min(clocks_.steady(*back.first_read), machine_.poll_policy().deadline(job.submitted_at));
    log_.info(back.how, {{"job", specs[i].key},
                         {"batch", batch_id},
                         {"kind", specs[i].kind == JobKind::export_project ? "export" : "create"},
                         {"project", job.project_id.empty() ? specs[i].project_id : job.project_id}});
    jobs_.fill(index, std::move(specs[i]), std::move(job));
    if (jobs_[index].hooked) hooks_.await(hook_token(index), index);
  }
  admit();
  sweeper_.on_new_jobs();  // jobs recovered while polling count for sweeps too
}

BatchCounts Exporter::counts() const {
  BatchCounts c;
  c.total = jobs_.accepted();
  c.done = summary_.succeeded + summary_.failed + summary_.timed_out;
  c.failed = summary_.failed + summary_.timed_out;
  c.in_flight = jobs_.in_flight();
  c.downloading = downloader_.stage().downloading();
  c.downloads_paused = downloader_.stage().paused();
  c.download_bytes = downloader_.stage().bytes();
  c.delivering = deliveries_.delivering();
  return c;
}

void Exporter::admit() {
  while (const auto next = jobs_.admit(config_.limits.max_active_jobs)) {
    const auto index = *next;
    jobs_[index].due = std::max(jobs_[index].due, time_.now());  // later for a job that waits for its hook
    schedule_.schedule(index);
  }
}

HookAnswer Exporter::hint(std::string_view token) {
  const auto found = hooks_.find(token);
  if (found.answer != HookAnswer::accepted) return found.answer;
  const auto index = found.job;
  ExportJob& job = jobs_[index];
  log_.debug("hook", {{"job", jobs_.spec(job.spec).key}, {"state", to_string(job.state)}});
  if (job.state == JobState::polling) hooks_.hinted(index, time_.now());
  schedule_.read_now(index);
  return HookAnswer::accepted;
}

void Exporter::confirm(std::uint32_t index, std::optional<TimePoint> unfinished) {
  if (unfinished) hooks_.hinted(index, *unfinished);
  log_.debug("sweep_hint", {{"job", jobs_.spec(index).key}, {"project", jobs_[index].project_id}});
  schedule_.read_now(index);
}

void Exporter::reschedule(std::uint32_t index, bool safety_net) { schedule_.reschedule(index, safety_net); }

std::string Exporter::hook_token(std::uint32_t index) const {
  const ExportJob& job = jobs_[index];
  return hooks_.token(jobs_.batch_id(job), jobs_.spec(job.spec).key);
}

void Exporter::forget_hook(std::uint32_t index) {
  // A late or repeated hook for it is answered 200 and ignored, for the last many ended jobs.
  if (jobs_[index].hooked) hooks_.ended(hook_token(index));
}

void Exporter::stop() {
  crew_.stopping = true;
  calls_.stop();
  schedule_.wake();
  sweeper_.stop();
  downloader_.stop();
}

ApiHealth Exporter::health() const { return calls_.rules().health(time_.now()); }

void Exporter::reconfigure(const Config& config) {
  config_ = config;
  machine_ = JobMachine(PollPolicy(config.polling, config.webhook.safety_poll), RetryPolicy(config.retry),
                        config.download.enabled());
  calls_.reconfigure(rules_settings());
  sweeper_.reconfigure(config.polling);
  // One worker per pooled connection: more start now, extra ones leave after their current step.
  if (crew_.spawned > 0) spawn_workers();  // running
  admit();
  schedule_.wake();  // idle workers look again (and extra ones leave)
}

void Exporter::spawn_workers() {
  // Workers leave on their own when there are more than these (a reload).
  using Queue = StepSchedule::Queue;
  spawn([this] { return worker(Queue::downloads); }, crew_.downloaders, workers(Queue::downloads));
  spawn([this] { return worker(Queue::deliveries); }, crew_.deliverers, workers(Queue::deliveries));
  spawn([this] { return worker(Queue::api); }, crew_.api, workers(Queue::api));
  spawn([this] { return sweeper_.run(); }, crew_.sweepers, 1);
}

std::uint32_t Exporter::workers(StepSchedule::Queue queue) const {
  if (queue == StepSchedule::Queue::downloads)
    return downloader_.on() && config_.download.enabled() ? config_.download.max_concurrent : 0;
  // One delivery worker even without a deliverer: a job the journal had
  // delivering when delivery was turned off since ends on it.
  if (queue == StepSchedule::Queue::deliveries) return deliveries_.on() ? config_.deliver.max_concurrent : 1;
  return std::max<std::uint32_t>(1, config_.limits.max_connections);  // one per pooled connection
}

void Exporter::spawn(const std::function<awaitable<void>()>& body, std::uint32_t& active, std::uint32_t target) {
  while (active < target) {
    ++crew_.spawned;
    ++active;
    asio::co_spawn(ex_, body(), [this](std::exception_ptr e) {
      --crew_.spawned;
      crew_.left.notify_all();
      if (e) std::rethrow_exception(e);  // a disk error: stop the loop rather than act on unsaved state
    });
  }
}

awaitable<RunSummary> Exporter::run() {
  spawn_workers();
  while (crew_.spawned > 0) co_await crew_.left.wait();
  summary_.requests = calls_.requests();
  summary_.fatal = calls_.rules().fatal();
  co_return summary_;
}

awaitable<void> Exporter::worker(StepSchedule::Queue queue) {
  auto& active = queue == StepSchedule::Queue::downloads    ? crew_.downloaders
                 : queue == StepSchedule::Queue::deliveries ? crew_.deliverers
                                                            : crew_.api;
  for (;;) {
    if (crew_.stopping) co_return;
    if (active > workers(queue)) {
      --active;  // fewer after a reload
      co_return;
    }
    if (mode_ == Mode::batch && idle()) {
      // Every job has ended: the API workers end the run (a list call held
      // at the gate is not sent after it).
      if (queue == StepSchedule::Queue::api) stop();
      co_return;
    }
    const auto index = schedule_.take(queue);
    if (!index) {
      co_await schedule_.wait(queue);
      continue;
    }
    co_await execute(*index);
    schedule_.done(*index);
  }
}

awaitable<void> Exporter::execute(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  switch (machine_.step(job, time_.now())) {
    case StepKind::nothing:
      co_return;
    case StepKind::expire:
      co_await apply(index, machine_.expire(job));
      co_return;
    case StepKind::submit:
      co_await submit(index);
      co_return;
    case StepKind::probe:
      co_await probe(index);
      co_return;
    case StepKind::poll:
      co_await poll(index);
      co_return;
    case StepKind::download:
      co_await download(index);
      co_return;
    case StepKind::deliver:
      co_await deliver(index);
      co_return;
  }
}

awaitable<void> Exporter::download(std::uint32_t index) {
  auto event = co_await downloader_.step(index);
  if (crew_.stopping) co_return;  // NAME.part and the journal hold where it got to
  if (event)
    co_await apply(index, std::move(*event));
  else
    schedule_.schedule(index);  // its file is another job's for now
}

awaitable<void> Exporter::deliver(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  if (!deliveries_.on()) {
    // Delivering in the journal, and delivery turned off since: nothing left to hand it to.
    co_await apply(index, machine_.on_delivered(job, {DeliveryEnd::How::delivered, ""}, time_.now(), random_()));
    co_return;
  }
  const auto end = co_await deliveries_.run(index, jobs_.spec(job.spec), jobs_.batch_id(job), job.project_id,
                                            *metrics_, time_.wall_now());
  if (crew_.stopping) co_return;  // killed with exportd: delivering in the journal, delivered again at the next start
  if (end.how != DeliveryEnd::How::delivered)
    log_.warning("delivery_failed_once", {{"job", jobs_.spec(job.spec).key}, {"why", end.why}});
  co_await apply(index, machine_.on_delivered(job, end, time_.now(), random_()));
}

awaitable<void> Exporter::submit(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  // Named: g++ 12 mishandles a conditional temporary inside co_await.
  std::string hook_url;
  if (job.hooked) hook_url = hooks_.url(hook_token(index));
  auto built = co_await requests_.make(config_.api.endpoint, spec, jobs_.batch_id(job), std::move(hook_url));
  if (crew_.stopping) co_return;  // nothing was sent or journaled: it is submitted at the next start
  if (!built) {
    co_await apply(index, machine_.on_unsendable(job, built.error()));
    co_return;
  }
  co_await ledger_.submit_started(jobs_.batch_id(job), spec.key);
  const auto reply = co_await ask<SubmitReply>(index, *built, read_submit);
  if (!reply) co_return;
  const auto now = time_.now();
  const auto& accepted = *reply;
  const std::string_view own = spec.kind == JobKind::export_project ? std::string_view(spec.project_id) : "";
  auto event = machine_.on_submitted(job, accepted, now, own);
  if (job.state == JobState::polling) {
    if (!job.hooked) job.due = sweeper_.first_read(job.due, now);
    if (accepted.project_id.empty())
      log_.warning("accepted_without_id",
                   {{"job", spec.key},
                    {"polling", job.project_id},
                    {"why", "the export reply held no usable projectId; the project itself is polled"}});
    co_await ledger_.submitted(jobs_.batch_id(job), spec.key, job.project_id, clocks_.wall(now));
    jobs_.export_accepted();
  } else if (job.reach == CreateReach::accepted) {
    co_await ledger_.submitted(jobs_.batch_id(job), spec.key, "", clocks_.wall(now));  // made: never sent again
  }
  co_await apply(index, std::move(event));
}

// A submit in doubt (a crash between "submit started" and "submitted", a
// reply lost or garbled): an export job asks for the project's progress (a
// running export means ours got through); a create job looks for its tag
// in the project list, every page of it (CreateLookup).
awaitable<void> Exporter::probe(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  ProbeFinding finding;
  if (spec.kind == JobKind::create_project) {
    auto looked = co_await look_up(index);
    if (!looked) co_return;  // stopping
    finding = std::move(*looked);
  } else {
    const ApiRequest request = progress_request(config_.api.endpoint, spec.project_id);
    auto data = co_await call(job, request);
    if (crew_.stopping) co_return;
    finding = read_probe(data, spec.project_id);
  }
  const auto now = time_.now();
  if (finding.retry) {
    co_await apply(index, failure_event(job, *finding.retry, now));
    co_return;
  }
  const auto& running = finding.running;
  auto event = machine_.on_probe(job, running, now, random_());
  if (running) {
    co_await ledger_.submitted(jobs_.batch_id(job), spec.key, *running, clocks_.wall(now));
    jobs_.export_accepted();
  }
  co_await apply(index, std::move(event));
}

awaitable<std::optional<ProbeFinding>> Exporter::look_up(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  // The projects of its batch known to exist: a list that leaves one out shows only part of the list.
  std::set<std::string> known;
  for (const ExportJob& other : jobs_)
    if (other.creates && other.batch == job.batch && counts_down(other.state)) known.insert(other.project_id);
  CreateLookup lookup(create_tag(jobs_.batch_id(job), spec.key), std::move(known));
  const auto list_path = list_projects_request(config_.api.endpoint).target;
  ListQuery query = lookup.first();
  for (;;) {
    const ApiRequest request = list_projects_request(config_.api.endpoint, query);
    auto data = co_await call(job, request);
    if (crew_.stopping) co_return std::nullopt;
    auto step = lookup.on_page(data, list_path);
    switch (step.kind) {
      case CreateLookup::Step::Kind::found:
        co_return ProbeFinding{std::move(step.project), {}};
      case CreateLookup::Step::Kind::absent:
        log_.info(
            "create_not_found",
            {{"job", spec.key}, {"pages", std::to_string(lookup.pages())}, {"why", "the whole project list was read"}});
        co_return ProbeFinding{};
      case CreateLookup::Step::Kind::unknown:
        co_return ProbeFinding{{}, std::move(step.why)};
      case CreateLookup::Step::Kind::next:
        query = std::move(step.query);
        break;
    }
  }
}

awaitable<void> Exporter::poll(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const ApiRequest request = progress_request(config_.api.endpoint, job.project_id);
  const auto reply = co_await ask<ProgressReply>(index, request, read_progress);
  if (!reply) co_return;
  const auto now = time_.now();
  // The latest sight of it unfinished, for the lag: its hook, else the read before this one.
  const TimePoint unfinished = hooks_.hint(index).value_or(job.submitted_at + Millis(job.track.read_ms));
  const auto mark = job.sweep;
  auto event = machine_.on_progress(job, *reply, now);
  if (event.kind == JobEvent::Kind::exported || event.kind == JobEvent::Kind::succeeded) {
    metrics_->completion_lag(std::chrono::duration_cast<Millis>(now - std::min(now, unfinished)));
    hooks_.forget_hint(index);
    sweeper_.on_done(mark);
  }
  co_await apply(index, std::move(event));
}

template <class Reply, class Reader>
awaitable<std::optional<Reply>> Exporter::ask(std::uint32_t index, const ApiRequest& request, Reader read) {
  ExportJob& job = jobs_[index];
  auto data = co_await call(job, request);
  if (crew_.stopping) co_return std::nullopt;
  auto reply = read_as<Reply>(data, read);
  if (reply) co_return std::move(*reply);
  co_await apply(index, failure_event(job, reply.error(), time_.now()));
  co_return std::nullopt;
}

awaitable<ApiResult<boost::json::object>> Exporter::call(ExportJob& job, const ApiRequest& request) {
  return calls_.call(&job, jobs_.spec(job.spec).key, request);
}

JobEvent Exporter::failure_event(ExportJob& job, const ApiError& error, TimePoint now) {
  if (error.api_down) return machine_.on_unavailable(job, error, calls_.rules().next_probe(), now);
  return machine_.on_failure(job, error, now, random_());
}

awaitable<void> Exporter::apply(std::uint32_t index, JobEvent event) {
  ExportJob& job = jobs_[index];
  if (event.error && calls_.stops_run(event.error->kind)) {
    // Not the job's fault: it stays as the journal has it and the run stops.
    calls_.stop_run(*event.error);
    co_return;
  }
  switch (event.kind) {
    case JobEvent::Kind::exported: {
      auto no_file = co_await downloader_.on_exported(index, event.download_url);
      if (auto* d = downloader_.stage().find(index); d != nullptr && d->exported == std::chrono::system_clock::time_point{})
        d->exported = time_.wall_now();
      if (no_file)
        co_await finish(index, *no_file);
      else
        schedule_.schedule(index);
      co_return;
    }
    case JobEvent::Kind::deliver: {
      // Its values journaled before its command first starts: a restart delivers it again with them.
      DeliveryRecord record;
      record.url = event.download_url;
      if (const auto* d = downloader_.stage().find(index)) {
        if (record.url.empty()) record.url = d->url;
        if (d->done) record = {record.url, d->done->path, d->done->sha256, d->done->bytes};
      }
      co_await deliveries_.begin(index, jobs_.batch_id(job), jobs_.spec(job.spec).key, std::move(record),
                                 time_.wall_now());
      break;
    }
    case JobEvent::Kind::succeeded:
    case JobEvent::Kind::failed:
    case JobEvent::Kind::timed_out:
      co_await finish(index, event);
      co_return;
    case JobEvent::Kind::retrying:
      metrics_->retry(retry_stage(job.state));
      break;
    case JobEvent::Kind::submitted:
      sweeper_.on_new_jobs();
      break;
    default:
      break;
  }
  log_step(log_, jobs_.spec(job.spec).key, job, event);
  schedule_.schedule(index);
}

awaitable<void> Exporter::finish(std::uint32_t index, const JobEvent& event) {
  ExportJob& job = jobs_[index];
  const std::string batch_id = jobs_.batch_id(job);
  const auto submitted = job.submitted_at != TimePoint{} ? std::optional(clocks_.wall(job.submitted_at)) : std::nullopt;
  auto r = job_result(job, jobs_.spec(job.spec), batch_id, event, downloader_.stage().find(index), submitted,
                      time_.wall_now());
  deliveries_.complete(index, r, time_.wall_now());
  if (const auto* d = downloader_.stage().find(index); d != nullptr && d->exported != std::chrono::system_clock::time_point{})
    r.exported_at = d->exported;
  co_await ledger_.ended(batch_id, r);
  metrics_->ended(r.status, event.download_failed);
  hooks_.forget_hint(index);
  count_result(summary_, r);
  log_result(log_, r);
  forget_hook(index);
  downloader_.stage().end(index);
  deliveries_.end(index);
  // The slot is freed only after the last await: a job placed in it while
  // this one still runs its step would have its step's `busy` cleared.
  if (jobs_.closes_batch(job)) co_await ledger_.batch_ended(batch_id);
  jobs_.end(index);  // the slot is free for the next job
  admit();
  if (idle()) schedule_.wake();  // let idle workers see the end
}

}  // namespace exportd
