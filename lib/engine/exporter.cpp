#include "engine/exporter.hpp"

#include <filesystem>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "jobs/job_file.hpp"
#include "jobs/probe.hpp"
#include "text/file_name.hpp"
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

// A call's outcome read as the reply it should be: the call's own error, or the reader's verdict.
template <class Reply, class Reader>
ApiResult<Reply> read_as(const ApiResult<boost::json::object>& data, Reader read) {
  if (!data) return data.error();
  return read(*data);
}

}  // namespace

Exporter::Exporter(asio::any_io_executor ex, const Config& config, Transport& transport, TokenSource& tokens,
                   JobLedger& ledger, Logger& log, Mode mode, EngineTime& time, UnitRandom random)
    : ex_(ex),
      config_(config),
      transport_(transport),
      tokens_(tokens),
      ledger_(ledger),
      log_(log),
      mode_(mode),
      time_(time),
      random_(std::move(random)),
      machine_(PollPolicy(config.polling, config.webhook.safety_poll), RetryPolicy(config.retry),
               config.download.enabled()),
      rules_(rules_settings()),
      sweeps_(config.polling),
      crew_(time, ex),
      clocks_(time) {}

Exporter::~Exporter() { files_.join(); }

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
    const RecoveredJob* r = i < recovered.size() ? &recovered[i] : nullptr;
    const char* how = "accepted";
    if (r != nullptr) {
      job.submissions = r->submissions;
      if (r->state == Recovery::in_doubt) {
        machine_.on_recovered(job, JobState::in_doubt, {}, {});
        how = "recovered_in_doubt";
      } else if (export_accepted(r->state)) {
        // Polling resumes (or the download); no second export.
        const auto submitted = std::chrono::system_clock::time_point(std::chrono::milliseconds(r->submitted_at_ms));
        const bool download = r->state == Recovery::downloading && fetcher_ != nullptr;
        machine_.on_recovered(job, download ? JobState::downloading : JobState::polling, r->project_id,
                              clocks_.steady(submitted));
        how = "recovered_submitted";
        if (download) {
          // The download resumes from the bytes on disk.
          downloads_.resume(index, r->download.url, r->download.file, r->download.validator, r->download.total);
          how = "recovered_downloading";
        } else if (job.hooked && restart_) {
          // Read at once only if its hook may have come while the daemon was
          // down, or its safety read is due; otherwise it keeps waiting for it.
          const auto now = clocks_.wall(time_.now());
          const auto first = first_read_after_restart(submitted, now, *restart_, config_.webhook.safety_poll);
          if (first > now) {
            job.due = std::min(clocks_.steady(first), machine_.poll_policy().deadline(job.submitted_at));
            how = "recovered_awaiting_hook";
          }
        }
      }
    }
    log_.info(how, {{"job", specs[i].key},
                    {"batch", batch_id},
                    {"kind", specs[i].kind == JobKind::export_project ? "export" : "create"},
                    {"project", job.project_id.empty() ? specs[i].project_id : job.project_id}});
    jobs_.fill(index, std::move(specs[i]), std::move(job));
    if (jobs_[index].hooked) hooks_.await(hook_token(index), index);
  }
  admit();
  if (!sweeps_.running()) crew_.sweep_news.notify_all();  // jobs recovered while polling count for sweeps too
}

BatchCounts Exporter::counts() const {
  BatchCounts c;
  c.total = jobs_.accepted();
  c.done = summary_.succeeded + summary_.failed + summary_.timed_out;
  c.failed = summary_.failed + summary_.timed_out;
  c.in_flight = jobs_.in_flight();
  c.downloading = downloads_.downloading();
  c.downloads_paused = downloads_.paused();
  c.download_bytes = downloads_.bytes();
  return c;
}

void Exporter::admit() {
  while (const auto next = jobs_.admit(config_.limits.max_active_jobs)) {
    const auto index = *next;
    jobs_[index].due = std::max(jobs_[index].due, time_.now());  // later for a job that waits for its hook
    schedule(index);
  }
}

void Exporter::schedule(std::uint32_t index) {
  const auto at = jobs_[index].due;
  const auto state = jobs_[index].state;
  if (state == JobState::downloading && !jobs_[index].link_refused) {
    downloads_.due().push(Lane::poll, at, index);
    if (at < crew_.download_wake->expiry()) crew_.download_wake->expires_at(at);
    return;
  }
  due_.push(state == JobState::queued || state == JobState::in_doubt ? Lane::submit : Lane::poll, at, index);
  if (at < crew_.api_wake->expiry()) crew_.api_wake->expires_at(at);  // wakes the idle workers to look again
}

void Exporter::use_hooks(const HookKeys& keys, const std::string& public_url) {
  hooks_.use(keys, public_url);
}

HookAnswer Exporter::hint(std::string_view token) {
  const auto found = hooks_.find(token);
  if (found.answer != HookAnswer::accepted) return found.answer;
  const auto index = found.job;
  ExportJob& job = jobs_[index];
  log_.debug("hook", {{"job", jobs_.spec(job.spec).key}, {"state", to_string(job.state)}});
  if (job.state == JobState::polling) hooks_.hinted(index, time_.now());
  read_now(index);
  return HookAnswer::accepted;
}

void Exporter::read_now(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  if (job.busy) {
    job.hint_pending = true;  // the read under way may have gone out before the finish
  } else if (machine_.on_hint(job, time_.now())) {
    schedule(index);
  }
}

void Exporter::after_step(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  if (!job.hint_pending) return;
  job.hint_pending = false;
  if (machine_.on_hint(job, time_.now())) schedule(index);
}

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
  rules_.stop();
  crew_.api_wake->cancel();
  crew_.download_wake->cancel();
  wake_sweeper();
  crew_.held_until->cancel();
}

std::string Exporter::health() const { return rules_.health(time_.now()); }

void Exporter::reconfigure(const Config& config) {
  config_ = config;
  machine_ = JobMachine(PollPolicy(config.polling, config.webhook.safety_poll), RetryPolicy(config.retry),
                        config.download.enabled());
  rules_.reconfigure(rules_settings());
  sweeps_.reconfigure(config.polling);
  // One worker per pooled connection: more start now, extra ones leave after their current step.
  if (crew_.spawned > 0) spawn_workers();  // running
  admit();
  crew_.api_wake->cancel();  // idle workers look again (and extra ones leave)
  crew_.download_wake->cancel();
  wake_sweeper();
}

void Exporter::spawn_workers() {
  // Workers leave on their own when there are more than these (a reload).
  const auto downloads = fetcher_ != nullptr && config_.download.enabled() ? config_.download.max_concurrent : 0;
  spawn(&Exporter::download_worker, crew_.downloaders, downloads);
  spawn(&Exporter::worker, crew_.api, std::max<std::uint32_t>(1, config_.limits.max_connections));
  spawn(&Exporter::sweeper, crew_.sweepers, 1);
}

void Exporter::spawn(awaitable<void> (Exporter::*body)(), std::uint32_t& active, std::uint32_t target) {
  while (active < target) {
    ++crew_.spawned;
    ++active;
    asio::co_spawn(ex_, (this->*body)(), [this](std::exception_ptr e) {
      --crew_.spawned;
      crew_.left.notify_all();
      if (e) std::rethrow_exception(e);  // a disk error: stop the loop rather than act on unsaved state
    });
  }
}

awaitable<RunSummary> Exporter::run() {
  spawn_workers();
  while (crew_.spawned > 0) co_await crew_.left.wait();
  co_return summary_;
}

awaitable<void> Exporter::worker() {
  for (;;) {
    if (crew_.stopping) co_return;
    if (crew_.api > std::max<std::uint32_t>(1, config_.limits.max_connections)) {
      --crew_.api;  // fewer connections after a reload
      co_return;
    }
    if (mode_ == Mode::batch && idle()) {
      crew_.stopping = true;  // every job has ended
      crew_.api_wake->cancel();
      crew_.download_wake->cancel();
      wake_sweeper();
      co_return;
    }
    const bool stepped = co_await step_due(due_);  // named: g++ 12 hangs on co_await inside the if
    if (stepped) continue;
    co_await wait_for_due(due_, *crew_.api_wake);
  }
}

bool Exporter::sweep_candidate(const ExportJob& job) {
  return job.state == JobState::polling && !job.hooked && job.sweep != SweepMark::excluded && !job.project_id.empty();
}

void Exporter::wake_sweeper() {
  crew_.sweep_wake->cancel();
  crew_.sweep_news.notify_all();
}

std::size_t Exporter::sweep_coverage(bool all) const {
  std::size_t n = 0;
  for (const auto& job : jobs_) n += sweep_candidate(job) && (all || job.sweep != SweepMark::unlisted);
  return n;
}

awaitable<void> Exporter::sweeper() {
  for (;;) {
    if (crew_.stopping) co_return;
    if (mode_ == Mode::batch && idle()) co_return;
    // The jobs a sweep would stand in for: all candidates but those the
    // latest one did not list (a list in pages may never show them).
    const auto now = time_.now();
    const auto covered = sweep_coverage(false);
    const auto next = sweeps_.next(now, covered);
    switch (next.kind) {
      case SweepMachine::Next::Kind::sweep: {
        if (next.starts)
          log_.info("sweeps_on", {{"jobs", std::to_string(covered)}, {"every", format_duration(sweeps_.every())}});
        const bool listed = co_await sweep();
        if (crew_.stopping) co_return;
        crew_.sweep_wake->expires_at(sweeps_.next_beat(now, listed, time_.now()));
        co_await crew_.sweep_wake->wait();
        continue;
      }
      case SweepMachine::Next::Kind::stop:
        hand_back("fewer jobs to sweep than polling.sweep_min_jobs asks");
        continue;
      case SweepMachine::Next::Kind::wait_until:
        crew_.sweep_wake->expires_at(next.at);
        co_await crew_.sweep_wake->wait();
        break;
      case SweepMachine::Next::Kind::wait:
        co_await crew_.sweep_news.wait();
        break;
    }
    // Counted again once the submits around the news have settled.
    if (crew_.stopping) co_return;
    crew_.sweep_wake->expires_at(time_.now() + SweepPlan::settle);
    co_await crew_.sweep_wake->wait();
  }
}

awaitable<bool> Exporter::sweep() {
  // The list as it comes, then its further pages while the replies say
  // there are more and some job it covers is not listed yet (ListPager).
  std::unordered_map<std::string, bool> exported;  // project id -> listed as exported
  auto pager = sweeps_.begin(sweep_coverage(true));
  const auto list_path = list_projects_request(config_.api.endpoint).target;
  ListQuery query;
  bool complete = true;  // every page the pager asked for was read
  std::size_t unlisted = 0;
  for (;;) {
    const ApiRequest request = list_projects_request(config_.api.endpoint, query);
    auto data = co_await call(nullptr, request);
    if (crew_.stopping) co_return true;
    if (!data) {
      const auto& e = data.error();
      const auto failed = sweeps_.on_failure(time_.now(), is_transient(e.kind), pager.pages());
      if (failed.kind == SweepMachine::Failed::give_up) {
        hand_back("the project list call failed " + std::to_string(failed.in_a_row) + " times in a row (" + e.code +
                  "): " + e.message);
        co_return true;
      }
      if (failed.kind == SweepMachine::Failed::retry) co_return false;
      complete = false;
      break;
    }
    sweeps_.on_page();
    auto page = read_project_list_page(*data, list_path);
    for (auto& p : page.items) exported[std::move(p.id)] = p.state == "exported";
    unlisted = 0;
    for (const auto& job : jobs_) unlisted += sweep_candidate(job) && !exported.contains(job.project_id);
    auto next = pager.next(query, page.paging, page.items.size(), unlisted);
    if (!next) break;
    query = std::move(*next);
  }
  const auto now = time_.now();
  const auto seen_unfinished = sweeps_.on_swept(now, pager.pages(), complete && unlisted == 0);
  for (std::uint32_t i = 0; i < jobs_.size(); ++i) {
    ExportJob& job = jobs_[i];
    if (!sweep_candidate(job)) continue;
    const auto it = exported.find(job.project_id);
    const auto listing = it == exported.end() ? std::nullopt : std::optional<bool>(it->second);
    switch (SweepPlan::take(job.sweep, listing, complete)) {
      case SweepPlan::Listing::none:
        break;
      case SweepPlan::Listing::confirm_swept:
        // The lag counts from the sweep before, the last that saw it unfinished.
        hooks_.hinted(i, seen_unfinished);
        [[fallthrough]];
      case SweepPlan::Listing::confirm:
        // Listed as exported: one confirming read, as on a hook.
        log_.debug("sweep_hint", {{"job", jobs_.spec(job.spec).key}, {"project", job.project_id}});
        read_now(i);
        break;
      case SweepPlan::Listing::safety_net:
        if (!job.busy && machine_.on_swept(job, now)) schedule(i);
        break;
      case SweepPlan::Listing::hand_back:
        if (!job.busy && machine_.on_hint(job, now)) schedule(i);
        break;
    }
  }
  co_return true;
}

void Exporter::hand_back(const std::string& why) {
  log_.info("sweeps_off", {{"why", why}});
  const auto now = time_.now();
  for (std::uint32_t i = 0; i < jobs_.size(); ++i) {
    ExportJob& job = jobs_[i];
    if (!sweep_candidate(job)) continue;
    const bool was_swept = swept(job.sweep);
    job.sweep = SweepMark::unseen;
    if (was_swept && !job.busy && machine_.on_hint(job, now)) schedule(i);
  }
}

awaitable<bool> Exporter::step_due(DueQueues& queue) {
  const auto due = queue.pop_due(time_.now());
  if (!due) co_return false;
  ExportJob& job = jobs_[due->job];
  if (due->at != job.due || job.busy) co_return true;  // stale: the job was given another time since
  job.busy = true;
  co_await execute(due->job);
  jobs_[due->job].busy = false;
  after_step(due->job);
  co_return true;
}

awaitable<void> Exporter::wait_for_due(const DueQueues& queue, Alarm& wake) {
  const auto next = queue.next();
  if (wake.expiry() != next) wake.expires_at(next);
  co_await wake.wait();
}

awaitable<void> Exporter::download_worker() {
  for (;;) {
    if (crew_.stopping) co_return;
    if (crew_.downloaders > config_.download.max_concurrent) {
      --crew_.downloaders;  // fewer at once after a reload
      co_return;
    }
    if (mode_ == Mode::batch && idle()) co_return;  // the API workers end the run
    const bool stepped = co_await step_due(downloads_.due());
    if (stepped) continue;
    co_await wait_for_due(downloads_.due(), *crew_.download_wake);
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
  }
}

Result<std::string> Exporter::video_path(std::uint32_t index) const {
  const ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  std::string name = spec.file_name;
  if (name.empty()) {
    // A create job whose name uses {project_id}: made now that the project exists.
    const auto hash = spec.key.find('#');
    const std::string file = spec.key.substr(0, hash), id = spec.key.substr(hash + 1);
    auto made = render_name(config_.download.name, {file_stem(file), id, job.project_id, spec.resolution});
    if (!made) return made.error();
    name = std::move(*made);
  }
  return (std::filesystem::path(config_.download.dir) / name).lexically_normal().string();
}

awaitable<void> Exporter::record_download(std::uint32_t index) {
  const ExportJob& job = jobs_[index];
  const auto& d = downloads_.at(index);
  // A named record: g++ 12 destroys a temporary inside co_await twice.
  const DownloadRecord record{d.url, d.file.path, d.file.part.validator, d.file.part.total};
  co_await ledger_.downloading(jobs_.batch_id(job), jobs_.spec(job.spec).key, record);
}

awaitable<void> Exporter::download(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  auto& d = downloads_.at(index);
  if (const auto owner = downloads_.claim_file(index)) {
    // A job of another batch downloads to the same file (a job file taken
    // twice): this one waits its turn, then replaces it. Never two writers.
    log_.info("download_waiting",
              {{"job", jobs_.spec(job.spec).key}, {"file", d.file.path}, {"behind", jobs_.spec(*owner).key}});
    job.due = time_.now() + DownloadStage::file_busy_wait;
    schedule(index);
    co_return;
  }
  auto out =
      co_await fetcher_->fetch(d.url, d.file, [this, index](const VideoFile&) { return record_download(index); });
  downloads_.on_try(index, out.end, out.received);
  metrics_->downloaded(out.received);
  if (crew_.stopping) co_return;  // NAME.part and the journal hold where it got to
  if (out.end == FetchEnd::complete) {
    auto finished = co_await fetcher_->finish(d.file);
    if (finished) {
      metrics_->download_complete();
      d.done = std::move(*finished);
      co_await apply(index, machine_.on_downloaded(job));
      co_return;
    }
    out = {FetchEnd::retry_later, finished.error().message, out.received};
  }
  co_await apply(index, machine_.on_fetch(job, out.end, out.received > 0, out.why, time_.now(), random_()));
}

awaitable<ApiResult<ApiRequest>> Exporter::submit_request(const ExportJob& job) {
  const JobSpec& spec = jobs_.spec(job.spec);
  auto order = export_order(spec);
  if (job.hooked) order.webhook_url = hooks_.url(hook_token(job.spec));
  if (spec.kind == JobKind::export_project) co_return export_request(config_.api.endpoint, order);
  // The scenes file (up to 8 MiB) is read on the file thread, not on the event loop.
  using Read = Result<boost::json::value>;
  auto read = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Read)>(
      [this](auto handler, std::string path) {
        asio::post(files_, [path = std::move(path), handler = std::move(handler)]() mutable {
          Read r = load_scenes(path);
          auto back = asio::get_associated_executor(handler);  // the event loop
          asio::post(back,
                     [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
        });
      },
      asio::use_awaitable, spec.scenes_file);
  // The job's own input is at fault: it fails, nothing is sent.
  if (!read) co_return ApiError{Errc::rejected, 0, "scenes_file", read.error().message, {}};
  order.name = tagged_project_name(spec.name, jobs_.batch_id(job), spec.key);
  co_return create_request(config_.api.endpoint, order, *read);
}

awaitable<void> Exporter::submit(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  auto built = co_await submit_request(job);
  if (crew_.stopping) co_return;  // nothing was sent or journaled: it is submitted at the next start
  if (!built) {
    co_await apply(index, machine_.on_unsendable(job, built.error()));
    co_return;
  }
  co_await ledger_.submit_started(jobs_.batch_id(job), spec.key);
  auto data = co_await call(&job, *built);
  if (crew_.stopping) co_return;
  const auto now = time_.now();
  auto reply = read_as<SubmitReply>(data, read_submit);
  if (!reply) {
    co_await apply(index, failure_event(job, reply.error(), now));
    co_return;
  }
  const auto& accepted = *reply;
  const std::string_view own = spec.kind == JobKind::export_project ? std::string_view(spec.project_id) : "";
  auto event = machine_.on_submitted(job, accepted, now, own);
  if (job.state == JobState::polling) {
    if (!job.hooked) job.due = sweeps_.first_read(job.due, now);
    if (accepted.project_id.empty())
      log_.warning("accepted_without_id",
                   {{"job", spec.key},
                    {"polling", job.project_id},
                    {"why", "the export reply held no usable projectId; the project itself is polled"}});
    co_await ledger_.submitted(jobs_.batch_id(job), spec.key, job.project_id, clocks_.wall(now));
    jobs_.export_accepted();
  }
  co_await apply(index, std::move(event));
}

// After a crash between "submit started" and "submitted": an export job asks
// for the project's progress (a running export means ours got through); a
// create job looks for its tagged name in the project list.
awaitable<void> Exporter::probe(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  const bool create = spec.kind == JobKind::create_project;
  // A named request: g++ 12 mishandles a conditional temporary inside co_await.
  const ApiRequest request =
      create ? list_projects_request(config_.api.endpoint) : progress_request(config_.api.endpoint, spec.project_id);
  auto data = co_await call(&job, request);
  if (crew_.stopping) co_return;
  const auto now = time_.now();
  const auto finding =
      read_probe(data, spec.kind, tagged_project_name(spec.name, jobs_.batch_id(job), spec.key), spec.project_id);
  if (finding.retry) {
    co_await apply(index, failure_event(job, *finding.retry, now));
    co_return;
  }
  const auto& running = finding.running;
  auto event = machine_.on_probe(job, running, now);
  if (running) {
    co_await ledger_.submitted(jobs_.batch_id(job), spec.key, *running, clocks_.wall(now));
    jobs_.export_accepted();
  }
  co_await apply(index, std::move(event));
}

awaitable<void> Exporter::poll(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  const ApiRequest request = progress_request(config_.api.endpoint, job.project_id);
  auto data = co_await call(&job, request);
  if (crew_.stopping) co_return;
  const auto now = time_.now();
  auto reply = read_as<ProgressReply>(data, read_progress);
  if (reply) {
    // The latest sight of it unfinished, for the lag: its hook, else the read before this one.
    const TimePoint unfinished = hooks_.hint(index).value_or(job.submitted_at + Millis(job.track.read_ms));
    const auto mark = job.sweep;
    auto event = machine_.on_progress(job, *reply, now);
    if (event.kind == JobEvent::Kind::exported || event.kind == JobEvent::Kind::succeeded) {
      metrics_->completion_lag(std::chrono::duration_cast<Millis>(now - std::min(now, unfinished)));
      hooks_.forget_hint(index);
      if (sweeps_.on_done(mark))
        hand_back("the project list did not show " + std::to_string(sweeps_.missed()) +
                  " finished exports as exported; reads of their own from now on");
    }
    co_await apply(index, std::move(event));
  } else
    co_await apply(index, failure_event(job, reply.error(), now));
}

awaitable<bool> Exporter::pass_gate() {
  for (;;) {
    const auto g = rules_.gate(time_.now());
    if (g.kind == RunRules::Gate::Kind::stopped || crew_.stopping) co_return false;
    if (g.kind == RunRules::Gate::Kind::go) co_return true;
    if (crew_.held_until->expiry() != g.until) crew_.held_until->expires_at(g.until);
    co_await crew_.held_until->wait();
  }
}

void Exporter::carry_out(const RunRules::Decision& d) {
  if (d.back_now) {
    log_.warning("api_back", {{"after", format_eta(d.held_for)}});
    crew_.held_until->cancel();  // everybody waiting goes on
  }
  if (rules_.held() && crew_.held_until->expiry() != rules_.next_probe()) crew_.held_until->expires_at(rules_.next_probe());
  if (d.held_now)
    log_.warning("api_held",
                 {{"why", rules_.held_because()},
                  {"probes_failed", std::to_string(rules_.failed_probes())},
                  {"next_try_in", format_eta(std::chrono::duration_cast<Millis>(rules_.next_probe() - time_.now()))}});
  if (d.stop) fail_run(*d.stop);
}

JobEvent Exporter::failure_event(ExportJob& job, const ApiError& error, TimePoint now) {
  if (error.api_down) return machine_.on_unavailable(job, error, rules_.next_probe(), now);
  return machine_.on_failure(job, error, now, random_());
}

awaitable<ApiResult<boost::json::object>> Exporter::call(ExportJob* job, const ApiRequest& request) {
  // The steps are CallSteps'; here they are only awaited and carried out.
  CallSteps steps(rules_, job != nullptr);
  for (auto step = CallSteps::start();;) {
    if (step.decision) carry_out(*step.decision);
    switch (step.kind) {
      case CallSteps::Step::Kind::pass_gate:
        step = steps.on_gate(co_await pass_gate());
        break;
      case CallSteps::Step::Kind::get_token:
        step = steps.on_token(co_await tokens_.get(), time_.now());
        break;
      case CallSteps::Step::Kind::send:
        if (job != nullptr) {
          ++job->requests;
          if (request.call == ApiCall::export_project || request.call == ApiCall::create_project) ++job->submissions;
        }
        ++summary_.requests;
        step = steps.on_reply(co_await transport_.exchange(request, steps.token()), time_.now(), time_.wall_now());
        break;
      case CallSteps::Step::Kind::renew:
        // Renewed once for everybody (single flight in TokenSource), then replayed.
        log_.debug("token_refused", {{"job", job != nullptr ? jobs_.spec(job->spec).key : std::string("(sweep)")},
                                     {"call", to_string(request.call)}});
        tokens_.reject(steps.token());
        step = steps.on_renewed();
        break;
      case CallSteps::Step::Kind::done:
        co_return steps.take_result();
    }
  }
}

awaitable<void> Exporter::apply(std::uint32_t index, JobEvent event) {
  ExportJob& job = jobs_[index];
  const std::string& key = jobs_.spec(job.spec).key;
  if (event.error && rules_.stops_run(*event.error)) {
    // Not the job's fault: it stays as the journal has it and the run stops.
    fail_run(*event.error);
    co_return;
  }
  switch (event.kind) {
    case JobEvent::Kind::submitted:
      log_.info("submitted", {{"job", key}, {"project", job.project_id}, {"attempt", std::to_string(job.submissions)}});
      schedule(index);
      if (!sweeps_.running()) crew_.sweep_news.notify_all();
      co_return;
    case JobEvent::Kind::adopted:
      log_.info("adopted",
                {{"job", key}, {"project", job.project_id}, {"why", "the export sent before a restart is running"}});
      schedule(index);
      co_return;
    case JobEvent::Kind::resubmit:
      log_.info("resubmitting", {{"job", key}, {"why", "the export sent before a restart never reached the API"}});
      schedule(index);
      co_return;
    case JobEvent::Kind::progress:
      log_.info("progress", {{"job", key},
                             {"project", job.project_id},
                             {"progress", percent(job.progress)},
                             {"next_poll_in", format_duration(event.delay)}});
      schedule(index);
      co_return;
    case JobEvent::Kind::exported: {
      auto& d = downloads_.open(index);
      if (d.file.path.empty()) {
        auto path = video_path(index);
        if (!path) {
          const auto failed = machine_.on_no_file(job, path.error().message, event.download_url);
          co_await finish(index, failed);
          co_return;
        }
        d.file.path = std::move(*path);
        log_.info("exported", {{"job", key}, {"project", job.project_id}, {"file", d.file.path}});
      }
      d.url = event.download_url;
      co_await record_download(index);
      schedule(index);
      co_return;
    }
    case JobEvent::Kind::retrying:
      metrics_->retry(job.state == JobState::downloading ? RetryStage::download
                      : job.state == JobState::polling   ? RetryStage::poll
                                                         : RetryStage::submit);
      if (event.error && event.error->kind == Errc::disk_full) {
        log_.warning("download_paused", {{"job", key},
                                         {"why", event.error->message},
                                         {"next_try_in", format_duration(event.delay)},
                                         {"what_to_do", "free space in download.dir; nothing is lost"}});
        schedule(index);
        co_return;
      }
      log_.info("retrying", {{"job", key},
                             {"state", to_string(job.state)},
                             {"code", event.error->code},
                             {"message", event.error->message},
                             {"delay", format_duration(event.delay)},
                             {"failures", std::to_string(job.call_failures)}});
      schedule(index);
      co_return;
    default:
      co_await finish(index, event);
  }
}

awaitable<void> Exporter::finish(std::uint32_t index, const JobEvent& event) {
  ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  const std::string batch_id = jobs_.batch_id(job);
  JobResult r;
  r.job = spec.key;
  r.batch = batch_id;
  r.project_id = job.project_id.empty() ? spec.project_id : job.project_id;
  r.status = job.state == JobState::succeeded   ? JobOutcome::succeeded
             : job.state == JobState::timed_out ? JobOutcome::timed_out
                                                : JobOutcome::failed;
  r.download_url = event.download_url;
  r.error = event.error;
  if (const auto* d = downloads_.find(index)) {
    if (r.download_url.empty()) r.download_url = d->url;  // a failed download keeps its link
    if (d->done && job.state == JobState::succeeded) r.video = JobResult::Video{d->done->path, d->done->bytes, d->done->sha256};
  }
  if (job.submitted_at != TimePoint{}) r.submitted_at = clocks_.wall(job.submitted_at);
  r.finished_at = time_.wall_now();
  r.attempts = job.submissions;
  r.requests = job.requests;
  co_await ledger_.ended(batch_id, r);
  metrics_->ended(r.status, event.download_failed);
  hooks_.forget_hint(index);

  if (job.state == JobState::succeeded) {
    ++summary_.succeeded;
    log_.info("succeeded", {{"job", spec.key},
                            {"project", r.project_id},
                            {"download_url", r.download_url},
                            {"file", r.video ? r.video->file : ""},
                            {"requests", std::to_string(job.requests)}});
  } else {
    if (job.state == JobState::timed_out)
      ++summary_.timed_out;
    else
      ++summary_.failed;
    if (event.error && is_transient(event.error->kind)) ++summary_.unreachable;
    log_.warning(job.state == JobState::timed_out ? "timed_out" : "failed",
                 {{"job", spec.key},
                  {"project", r.project_id},
                  {"code", r.error ? r.error->code : ""},
                  {"message", r.error ? r.error->message : ""}});
  }
  forget_hook(index);
  downloads_.end(index);
  // The slot is freed only after the last await: a job placed in it while
  // this one still runs its step would have its step's `busy` cleared.
  if (jobs_.closes_batch(job)) co_await ledger_.batch_ended(batch_id);
  jobs_.end(index);  // the slot is free for the next job
  admit();
  if (idle()) crew_.api_wake->cancel();  // let idle workers see the end
}

void Exporter::fail_run(const ApiError& error) {
  if (!summary_.fatal) {
    summary_.fatal = error;
    log_.error("stopped", {{"reason", error.code}, {"message", error.message}});
  }
  rules_.stop(error);
  stop();
}

}  // namespace exportd
