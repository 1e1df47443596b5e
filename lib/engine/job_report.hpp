#pragma once

// What a job's events say to the operator and the record: the log line of
// each step (SPEC §2: one line per job event), and the result line of an
// ended job. Pure functions of the job, its event and the time: the
// exporter calls them and writes what they make.

#include <chrono>
#include <optional>
#include <string>

#include "download/download_stage.hpp"
#include "engine/run_rules.hpp"
#include "jobs/export_job.hpp"
#include "jobs/job_spec.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "ops/results.hpp"

namespace exportd {

// The log line of an event that does not end the job (submitted, adopted,
// resubmit, progress, retrying and a download paused by a full disk).
void log_step(Logger& log, const std::string& key, const ExportJob& job, const JobEvent& event);

// Which stage a retry is counted in (metrics).
RetryStage retry_stage(JobState state);

// The result of an ended job. `download`: its download, if it had one;
// `submitted`: when its export was accepted, if it was.
JobResult job_result(const ExportJob& job, const JobSpec& spec, const std::string& batch, const JobEvent& event,
                     const DownloadStage::Active* download,
                     std::optional<std::chrono::system_clock::time_point> submitted,
                     std::chrono::system_clock::time_point finished);

// The ended job counted in the run's summary, and its log line.
void count_result(RunSummary& summary, const JobResult& result);
void log_result(Logger& log, const JobResult& result);

}  // namespace exportd
