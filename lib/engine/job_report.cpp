#include "engine/job_report.hpp"

#include <cstdio>

#include "time/duration.hpp"

namespace exportd {

namespace {

std::string percent(double p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", p);
  return buf;
}

}  // namespace

void log_step(Logger& log, const std::string& key, const ExportJob& job, const JobEvent& event) {
  switch (event.kind) {
    case JobEvent::Kind::submitted:
      log.info("submitted", {{"job", key}, {"project", job.project_id}, {"attempt", std::to_string(job.submissions)}});
      return;
    case JobEvent::Kind::adopted:
      log.info("adopted",
               {{"job", key}, {"project", job.project_id}, {"why", "the submit in doubt had reached the API"}});
      return;
    case JobEvent::Kind::resubmit:
      log.info("resubmitting", {{"job", key}, {"why", "the submit in doubt never reached the API"}});
      return;
    case JobEvent::Kind::in_doubt:
      log.warning("create_in_doubt", {{"job", key},
                                      {"code", event.error ? event.error->code : ""},
                                      {"why", event.error ? event.error->message : ""}});
      return;
    case JobEvent::Kind::progress:
      log.info("progress", {{"job", key},
                            {"project", job.project_id},
                            {"progress", percent(job.progress)},
                            {"next_poll_in", format_duration(event.delay)}});
      return;
    case JobEvent::Kind::retrying:
      if (event.error && event.error->kind == Errc::disk_full) {
        log.warning("download_paused", {{"job", key},
                                        {"why", event.error->message},
                                        {"next_try_in", format_duration(event.delay)},
                                        {"what_to_do", "free space in download.dir; nothing is lost"}});
        return;
      }
      log.info("retrying", {{"job", key},
                            {"state", to_string(job.state)},
                            {"code", event.error ? event.error->code : ""},
                            {"message", event.error ? event.error->message : ""},
                            {"delay", format_duration(event.delay)},
                            {"failures", std::to_string(job.call_failures)}});
      return;
    default:
      return;  // exported is logged with its file; the ends with their results
  }
}

RetryStage retry_stage(JobState state) {
  if (state == JobState::downloading) return RetryStage::download;
  return state == JobState::polling ? RetryStage::poll : RetryStage::submit;
}

JobResult job_result(const ExportJob& job, const JobSpec& spec, const std::string& batch, const JobEvent& event,
                     const DownloadStage::Active* download,
                     std::optional<std::chrono::system_clock::time_point> submitted,
                     std::chrono::system_clock::time_point finished) {
  JobResult r;
  r.job = spec.key;
  r.row = spec.row_line();
  r.batch = batch;
  r.project_id = job.project_id.empty() ? spec.project_id : job.project_id;
  r.status = job.state == JobState::succeeded   ? JobOutcome::succeeded
             : job.state == JobState::timed_out ? JobOutcome::timed_out
                                                : JobOutcome::failed;
  r.download_url = event.download_url;
  r.error = event.error;
  if (download != nullptr) {
    if (r.download_url.empty()) r.download_url = download->url;  // a failed download keeps its link
    if (download->done && r.status == JobOutcome::succeeded)
      r.video = JobResult::Video{download->done->path, download->done->bytes, download->done->sha256};
  }
  r.submitted_at = submitted;
  r.finished_at = finished;
  r.attempts = job.submissions;
  r.requests = job.requests;
  r.reach = job.reach;
  r.created = job.creates && !job.project_id.empty();
  return r;
}

void count_result(RunSummary& summary, const JobResult& result) {
  if (result.status == JobOutcome::succeeded) {
    ++summary.succeeded;
    return;
  }
  ++(result.status == JobOutcome::timed_out ? summary.timed_out : summary.failed);
  if (result.error && is_transient(result.error->kind)) ++summary.unreachable;
}

void log_result(Logger& log, const JobResult& r) {
  if (r.status == JobOutcome::succeeded) {
    log.info("succeeded", {{"job", r.job},
                           {"project", r.project_id},
                           {"download_url", r.download_url},
                           {"file", r.video ? r.video->file : ""},
                           {"requests", std::to_string(r.requests)}});
    return;
  }
  log.warning(r.status == JobOutcome::timed_out ? "timed_out" : "failed",
              {{"job", r.job},
               {"project", r.project_id},
               {"code", r.error ? r.error->code : ""},
               {"message", r.error ? r.error->message : ""}});
}

}  // namespace exportd
