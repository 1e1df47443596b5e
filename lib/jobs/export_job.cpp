#include "jobs/export_job.hpp"

#include "jobs/create_lookup.hpp"

namespace exportd {

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::queued:
      return "queued";
    case JobState::in_doubt:
      return "in_doubt";
    case JobState::polling:
      return "polling";
    case JobState::downloading:
      return "downloading";
    case JobState::delivering:
      return "delivering";
    case JobState::succeeded:
      return "succeeded";
    case JobState::failed:
      return "failed";
    case JobState::timed_out:
      return "timed_out";
  }
  return "?";
}

namespace {

// The export is done: its video is fetched from `url` now.
JobEvent download_from(ExportJob& job, const std::string& url, TimePoint now) {
  job.state = JobState::downloading;
  job.link_refused = false;
  job.due = now;
  return {JobEvent::Kind::exported, {}, url, {}};
}

// Whether a submit that failed with `e` may have taken effect: it is then
// verified before anything is sent again. An export is sent again only where
// it surely did not (a gateway that lost the answer, a connection lost after
// sending); a create, a new project each time, wherever it may have.
bool may_have_taken_effect(const ExportJob& job, const ApiError& e) {
  return job.creates ? create_may_have_taken_effect(e) : e.maybe_processed;
}

// A submit failed while queued: one that may have taken effect is in doubt
// from now. A create's lookup waits create_settle: true when it must.
bool note_doubt(ExportJob& job, const ApiError& e) {
  if (job.state != JobState::queued || !may_have_taken_effect(job, e)) return false;
  job.state = JobState::in_doubt;
  if (job.creates) job.reach = CreateReach::maybe;
  return job.creates;
}

}  // namespace

StepKind JobMachine::step(const ExportJob& job, TimePoint now) const {
  switch (job.state) {
    case JobState::queued:
      return StepKind::submit;
    case JobState::in_doubt:
      return StepKind::probe;
    case JobState::polling:
      return now >= poll_.deadline(job.submitted_at) ? StepKind::expire : StepKind::poll;
    case JobState::downloading:
      if (now >= poll_.deadline(job.submitted_at)) return StepKind::expire;
      return job.link_refused ? StepKind::poll : StepKind::download;
    case JobState::delivering:
      return StepKind::deliver;  // the export is done: no deadline cuts its delivery
    default:
      return StepKind::nothing;
  }
}

JobEvent JobMachine::on_submitted(ExportJob& job, const SubmitReply& reply, TimePoint now,
                                  std::string_view own_project) const {
  if (reply.project_id.empty() && own_project.empty() && job.creates) {
    // Made, surely: found again by its tag, never made a second time.
    job.state = JobState::in_doubt;
    job.reach = CreateReach::accepted;
    job.due = now + create_settle;
    return {JobEvent::Kind::in_doubt,
            {},
            {},
            JobError{Errc::malformed, "accepted_without_id",
                     "the API accepted the create but gave no usable projectId; its project is looked up by its tag "
                     "and is not created again",
                     200}};
  }
  if (reply.project_id.empty() && own_project.empty()) {
    job.state = JobState::failed;
    return {JobEvent::Kind::failed,
            {},
            {},
            JobError{Errc::rejected, "accepted_without_id",
                     "the API accepted the request but gave no usable projectId; it is not sent again "
                     "(look for the project in AI Studios)",
                     200}};
  }
  job.state = JobState::polling;
  job.reach = CreateReach::none;  // its project is known
  job.project_id = reply.project_id.empty() ? std::string(own_project) : reply.project_id;
  job.submitted_at = now;
  job.call_failures = 0;
  job.progress = 0;
  job.track = {};
  job.sweep = SweepMark::unseen;
  job.due = job.hooked ? poll_.safety_poll(now, now) : poll_.first_poll(now);
  return {JobEvent::Kind::submitted, {}, {}, {}};
}

JobEvent JobMachine::on_progress(ExportJob& job, const ProgressReply& reply, TimePoint now) const {
  if (job.state == JobState::downloading) {
    // The fresh link a refused one asked for. The download's failures
    // still count: a link refused again and again ends the job.
    if (reply.progress >= 100.0 && !reply.download_url.empty()) return download_from(job, reply.download_url, now);
    return on_failure(job,
                      ApiError{Errc::malformed, 0, "no_fresh_link",
                               "the API gave no download link for the finished export when asked for a fresh one", {}},
                      now, 0.5);
  }
  job.call_failures = 0;
  job.progress = static_cast<float>(reply.progress);
  if (reply.failed_state()) {
    job.state = JobState::failed;
    return {JobEvent::Kind::failed,
            {},
            {},
            JobError{Errc::rejected, "export_failed", "the API reports the export as '" + reply.state + "'"}};
  }
  if (reply.progress >= 100.0 && !reply.download_url.empty()) {
    if (downloads_) return download_from(job, reply.download_url, now);
    return finished(job, reply.download_url, now);
  }
  // 100 % without a URL yet: the link may lag the counter, so look again soon.
  if (now >= poll_.deadline(job.submitted_at)) return expire(job);
  poll_.observe(job.track, reply.progress, job.submitted_at, now);
  if (reply.progress < 100.0) SweepPlan::read_unfinished(job.sweep);  // a list that said "exported" was wrong
  // A job whose webhook is awaited, or that the sweeps list, is read again
  // on the next hook or sweep that says it is done, or as a safety net.
  job.due = (job.hooked || swept(job.sweep)) && reply.progress < 100.0
                ? poll_.safety_poll(job.submitted_at, now)
                : poll_.next_poll(job.track, job.submitted_at, now);
  return {JobEvent::Kind::progress, std::chrono::duration_cast<Millis>(job.due - now), {}, {}};
}

JobEvent JobMachine::on_failure(ExportJob& job, const ApiError& error, TimePoint now, double unit_random) const {
  ++job.call_failures;
  const auto wait = retry_.retry_after(error, job.call_failures, unit_random);
  if (!wait) {
    note_doubt(job, error);
    const bool doubt = job.state == JobState::in_doubt && job.reach != CreateReach::none;
    job.state = JobState::failed;
    if (!doubt) return {JobEvent::Kind::failed, {}, {}, job_error(error)};
    // Its reach is kept (the journal has it): a later run of the batch looks it up before any new create.
    return {JobEvent::Kind::failed,
            {},
            {},
            // Not "unreachable" (exit 75): the API answered, or the run's own rules would have
            // held it; what is missing is an answer only a later run (or the operator) can get.
            JobError{Errc::rejected, "create_in_doubt",
                     std::string(job.reach == CreateReach::accepted ? "the API accepted the create"
                                                                    : "the create may have made a project") +
                         " and the project list never showed it (last: " + error.code + " " + error.message +
                         "); it is not created again: running the job file again looks for it first",
                     error.http_status}};
  }
  // A submit that may have taken effect is verified before it is sent again.
  const bool settle = note_doubt(job, error);
  if (counts_down(job.state) && now + *wait >= poll_.deadline(job.submitted_at)) {
    job.due = poll_.deadline(job.submitted_at);
  } else {
    job.due = now + (settle ? std::max(*wait, create_settle) : *wait);
  }
  return {JobEvent::Kind::retrying, std::chrono::duration_cast<Millis>(job.due - now), {}, job_error(error)};
}

JobEvent JobMachine::retry_download(ExportJob& job, JobError error, TimePoint now, double unit_random) const {
  ++job.call_failures;
  const auto wait = retry_.retry_after(error.kind, std::nullopt, job.call_failures, unit_random);
  if (!wait) {
    job.state = JobState::failed;
    error.message = "the download failed " + std::to_string(job.call_failures) + " times in a row: " + error.message;
    return {JobEvent::Kind::failed, {}, {}, std::move(error), true};
  }
  job.due = std::min(now + *wait, poll_.deadline(job.submitted_at));  // the deadline holds mid-download
  return {JobEvent::Kind::retrying, std::chrono::duration_cast<Millis>(job.due - now), {}, std::move(error)};
}

JobEvent JobMachine::on_unavailable(ExportJob& job, const ApiError& error, TimePoint retry_at, TimePoint now) const {
  const bool settle = note_doubt(job, error);
  job.due = std::max(retry_at, settle ? now + create_settle : now);
  if (counts_down(job.state)) job.due = std::min(job.due, poll_.deadline(job.submitted_at));
  return {JobEvent::Kind::retrying, std::chrono::duration_cast<Millis>(job.due - now), {}, job_error(error)};
}

JobEvent JobMachine::on_probe(ExportJob& job, const std::optional<std::string>& running_project, TimePoint now,
                              double unit_random) const {
  if (!running_project && job.reach == CreateReach::accepted)
    return on_failure(job,
                      ApiError{Errc::malformed, 0, "accepted_without_id",
                               "the API accepted the create without a usable projectId and the project list does "
                               "not show its tag (yet)",
                               {}},
                      now, unit_random);
  if (running_project) {
    job.call_failures = 0;
    on_submitted(job, SubmitReply{*running_project}, now);
    job.track.basis = ProgressTrack::Basis::nothing;  // its export began before now, how long before is unknown
    job.due = now;  // look at its progress straight away
    return {JobEvent::Kind::adopted, {}, {}, {}};
  }
  // The failures that led here still count: a submit whose reply is always
  // lost and that never shows up ends after retry.max_attempts, not never.
  job.state = JobState::queued;
  job.reach = CreateReach::none;
  job.due = now;
  return {JobEvent::Kind::resubmit, {}, {}, {}};
}

bool JobMachine::on_hint(ExportJob& job, TimePoint now) const {
  if (job.state != JobState::polling || job.due <= now) return false;
  job.due = now;
  return true;
}

bool JobMachine::on_handed_back(ExportJob& job, TimePoint now) const {
  if (job.state != JobState::polling) return false;
  const auto own = job.track.read_ms == 0 ? std::max(now, poll_.first_poll(job.submitted_at)) : now;
  if (job.due <= own) return false;
  job.due = own;
  return true;
}

bool JobMachine::on_swept(ExportJob& job, TimePoint now) const {
  if (job.state != JobState::polling) return false;
  job.due = poll_.safety_poll(job.submitted_at, now);
  return true;
}

JobEvent JobMachine::on_fetch(ExportJob& job, FetchEnd end, bool progressed, std::string_view why, TimePoint now,
                              double unit_random) const {
  const auto error = [&](Errc kind, const char* code) { return JobError{kind, code, std::string(why)}; };
  if (progressed) job.call_failures = 0;  // bytes came: the tries in a row start over
  switch (end) {
    case FetchEnd::complete:
      // The file is whole; the caller puts it in place (on_downloaded).
      return {JobEvent::Kind::progress, {}, {}, {}};
    case FetchEnd::disk_full:
      // Not the job's fault: it waits for space, however long (the deadline still holds).
      job.due = std::min(now + disk_full_pause, poll_.deadline(job.submitted_at));
      return {JobEvent::Kind::retrying, disk_full_pause, {}, error(Errc::disk_full, "disk_full")};
    case FetchEnd::refresh_link:
      job.link_refused = true;
      if (progressed) {
        job.due = now;
        return {JobEvent::Kind::retrying, Millis(0), {}, error(Errc::transport, "link_refused")};
      }
      break;
    case FetchEnd::cut:
      if (progressed) {
        // Resumed from the bytes on disk at once: a cut that moved forward is no failure.
        job.due = now;
        return {JobEvent::Kind::retrying, Millis(0), {}, error(Errc::transport, "download_cut")};
      }
      break;
    case FetchEnd::retry_later:
      break;
    case FetchEnd::failed:
      job.state = JobState::failed;
      return {JobEvent::Kind::failed, {}, {}, error(Errc::rejected, "download_failed"), true};
  }
  return retry_download(job, error(Errc::transport, "download_failed"), now, unit_random);
}

JobEvent JobMachine::finished(ExportJob& job, std::string download_url, TimePoint now) const {
  job.call_failures = 0;
  if (delivers_) {
    job.state = JobState::delivering;
    job.due = now;
    return {JobEvent::Kind::deliver, {}, std::move(download_url), {}};
  }
  job.state = JobState::succeeded;
  return {JobEvent::Kind::succeeded, {}, std::move(download_url), {}};
}

JobEvent JobMachine::on_downloaded(ExportJob& job, TimePoint now) const { return finished(job, {}, now); }

JobEvent JobMachine::on_delivered(ExportJob& job, const DeliveryEnd& end, TimePoint now, double unit_random) const {
  if (end.how == DeliveryEnd::How::delivered) {
    job.call_failures = 0;
    job.state = JobState::succeeded;
    return {JobEvent::Kind::succeeded, {}, {}, {}};
  }
  ++job.call_failures;
  const auto why = end.how == DeliveryEnd::How::timed_out ? "killed at deliver.timeout: " + end.why : end.why;
  const auto wait = retry_.retry_after(Errc::transport, std::nullopt, job.call_failures, unit_random);
  if (!wait) {
    job.state = JobState::failed;
    return {JobEvent::Kind::failed,
            {},
            {},
            JobError{Errc::rejected, "delivery_failed",
                     "the delivery command failed " + std::to_string(job.call_failures) + " times in a row: " + why}};
  }
  job.due = now + *wait;
  return {JobEvent::Kind::retrying, *wait, {}, JobError{Errc::transport, "delivery_failed", why}};
}

JobEvent JobMachine::on_no_file(ExportJob& job, std::string why, std::string download_url) const {
  job.state = JobState::failed;
  return {JobEvent::Kind::failed, {}, std::move(download_url),
          JobError{Errc::invalid_input, "download_failed", std::move(why)}, true};
}

void JobMachine::on_recovered(ExportJob& job, JobState state, std::string project_id, TimePoint submitted_at,
                              CreateReach reach, TimePoint now) const {
  job.state = state;
  if (state == JobState::in_doubt && job.creates) {
    job.reach = reach == CreateReach::none ? CreateReach::maybe : reach;
    job.due = now + create_settle;
  }
  if (state == JobState::delivering) job.due = now;  // delivered again: at least once
  if (!counts_down(state) && state != JobState::delivering) return;
  job.project_id = std::move(project_id);
  job.submitted_at = submitted_at;
}

JobEvent JobMachine::on_unsendable(ExportJob& job, const JobError& why) const {
  job.state = JobState::failed;
  return {JobEvent::Kind::failed, {}, {}, why};
}

JobEvent JobMachine::expire(ExportJob& job) const {
  job.state = JobState::timed_out;
  return {JobEvent::Kind::timed_out,
          {},
          {},
          JobError{Errc::rejected, "timed_out", "not finished within polling.job_timeout"}};
}

}  // namespace exportd
