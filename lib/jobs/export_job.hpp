#pragma once

// The life of one export job as a pure state machine (README: "Architecture"):
//
//   queued ──submit accepted──▶ polling ──progress 100 + link──▶ succeeded
//    │ ▲ │                        │ ▲    └─(downloads on)──▶ downloading ──file in place──▶ succeeded
//    │ ▲ │                        │ ▲        link refused: a poll for a fresh one ◀┘ └─tries run out──▶ failed
//    │ │ └─reply lost──▶ in_doubt  │ └─progress < 100, transient failure: poll again
//    │ │      probe: running ──────┘ (adopted, never sent again)
//    │ └──────probe: nothing there (the failures so far still count)
//    └─permanent refusal, retries run out, unsendable──▶ failed
//      polling past the deadline ──▶ timed_out
//
// With deliver.command set (SPEC §13), a finished job (its video on disk,
// or its link) is `delivering` until its command exits 0, then succeeded;
// a failed or timed-out command is retried like an API call, and when the
// tries run out the job fails with delivery_failed. The job's deadline does
// not cut a delivery: the export is done, the command has its own timeout.
//
// Inputs are replies and the time; outputs are the next step and an event to
// log. Nothing here touches a socket, a timer or a file.

#include <cstdint>
#include <optional>
#include <string>

#include "api/wire.hpp"
#include "jobs/resume.hpp"
#include "schedule/backoff.hpp"
#include "schedule/clock.hpp"
#include "schedule/poll_policy.hpp"
#include "schedule/sweep.hpp"

namespace exportd {

enum class JobState : std::uint8_t {
  queued,     // accepted; the export (or create) request is due
  in_doubt,  // a submit may have reached the API (crash, lost reply): ask it (probe) before sending another
  polling,    // submitted; progress is due
  downloading,  // exported; its video is being downloaded (download.dir set)
  delivering,   // done (its video on disk, or its link): the delivery command is to run (deliver.command set)
  succeeded,  // progress reached 100 with a download URL (and the video is on disk, with downloads on)
  failed,     // the API refused it, or retries ran out
  timed_out,  // not finished within polling.job_timeout of its submit
};
std::string_view to_string(JobState s);
inline bool is_terminal(JobState s) { return s >= JobState::succeeded; }
// Accepted by the API and not ended: in flight, its deadline running.
inline bool counts_down(JobState s) { return s == JobState::polling || s == JobState::downloading; }

// The mutable part of a job, kept small: the batch holds 100,000 of these.
struct ExportJob {
  std::uint32_t spec = 0;          // index of its JobSpec
  std::uint32_t batch = 0;         // index of its batch
  JobState state = JobState::queued;
  bool hooked = false;        // the API calls our webhook receiver when it is done: polled only as a safety net
  bool busy = false;          // a step of it is being carried out
  bool hint_pending = false;  // a hook came while a read was under way: read once more after it
  bool link_refused = false;  // downloading: the video host refused the link; a progress call gets a fresh one
  bool creates = false;       // a create job: its submit is not idempotent (jobs/create_lookup.hpp)
  CreateReach reach = CreateReach::none;  // a create whose project id is not known: what it may have done
  SweepMark sweep = SweepMark::unseen;  // what the project-list sweeps have shown of it (schedule/sweep.hpp)
  std::uint32_t call_failures = 0;  // failed tries of the call now due (retry.max_attempts is up to 1000)
  std::uint32_t submissions = 0;    // export/create requests sent
  std::uint32_t requests = 0;      // API calls made for this job
  float progress = 0;              // last reported, 0..100
  TimePoint due{};                 // when its next step may run
  TimePoint submitted_at{};        // when the API accepted the export
  ProgressTrack track;             // what its progress reads have shown (the poll schedule's input)
  std::string project_id;          // the id being polled
};

// What a job needs when it is due.
enum class StepKind : std::uint8_t {
  submit,   // send the export or create request
  probe,    // find out whether an in-doubt submit reached the API
  poll,     // ask for progress
  download,  // one try of the video download
  deliver,   // one run of the delivery command
  expire,   // the deadline has passed: end as timed_out
  nothing,  // terminal already
};

// What a transition did, for the log and the results file.
struct JobEvent {
  enum class Kind : std::uint8_t {
    submitted,  // the API accepted the export; project_id known
    adopted,    // an in-doubt submit had reached the API: its export is polled, none is sent again
    resubmit,   // an in-doubt submit had not reached the API: it is sent again
    in_doubt,   // the API accepted a create without a usable id: its project is looked up, never created again
    progress,   // a poll answered below 100 %
    retrying,   // a transient failure; `delay` until the next try
    exported,   // 100 % with a link: the video is to be downloaded (download_url set)
    deliver,    // ready to be handed on: the delivery command is to run (download_url set when known)
    succeeded,  // ended well; download_url set
    failed,     // ended badly; error set
    timed_out,  // ended by the deadline
  } kind;
  Millis delay{0};
  std::string download_url;
  std::optional<JobError> error;
  bool download_failed = false;  // failed: its video could not be downloaded (metrics count these)
};

// How one run of the delivery command ended (the engine reads the child's end into this).
struct DeliveryEnd {
  enum class How : std::uint8_t {
    delivered,  // exited 0
    failed,     // a non-zero exit, a signal, or it could not be started
    timed_out,  // killed at deliver.timeout, with its process group
  } how = How::failed;
  std::string why;  // what it said (its output's end), or why it could not run
};

class JobMachine {
 public:
  // `downloads`: a finished export's video is downloaded before the job succeeds.
  // `delivers`: then the delivery command runs before the job succeeds.
  JobMachine(PollPolicy poll, RetryPolicy retry, bool downloads = false, bool delivers = false)
      : poll_(poll), retry_(retry), downloads_(downloads), delivers_(delivers) {}

  StepKind step(const ExportJob& job, TimePoint now) const;

  // The API accepted the export. A reply without a usable id polls
  // `own_project` (an export job's project); a create job's project is
  // then looked up by its tag (in_doubt, reach accepted): an accepted
  // request is never sent again.
  JobEvent on_submitted(ExportJob& job, const SubmitReply& reply, TimePoint now, std::string_view own_project = {}) const;
  JobEvent on_progress(ExportJob& job, const ProgressReply& reply, TimePoint now) const;
  // A call failed (after the transport's own token renewal and replay).
  JobEvent on_failure(ExportJob& job, const ApiError& error, TimePoint now, double unit_random) const;
  JobEvent expire(ExportJob& job) const;
  // The request cannot even be built (its scenes file is gone or changed
  // since it was checked): the job fails, nothing is sent.
  JobEvent on_unsendable(ExportJob& job, const JobError& why) const;
  // The API is unreachable (breaker open): try again at `retry_at`, without
  // holding it against the job.
  JobEvent on_unavailable(ExportJob& job, const ApiError& error, TimePoint retry_at, TimePoint now) const;
  // The answer to a probe: the project id whose export is running (adopt
  // it), or nothing (the submit never took effect: send it again). A create
  // the API accepted without an id (reach accepted) is never sent again: its
  // project not (yet) listed is a failure of the lookup, tried again.
  // (A lookup that could not say is a failure: on_failure.)
  JobEvent on_probe(ExportJob& job, const std::optional<std::string>& running_project, TimePoint now,
                    double unit_random) const;
  // The webhook says the job may be done: read its progress now. False when
  // nothing changes (not polling, or a read is due already: many hooks, one read).
  bool on_hint(ExportJob& job, TimePoint now) const;
  // A sweep has begun to list the job (its mark now swept()): its own next
  // read becomes a safety net. False when nothing changes (not polling).
  bool on_swept(ExportJob& job, TimePoint now) const;
  // The sweeps no longer stand in for the job: its own reads again. One
  // never read is read when its own schedule would first have read it
  // (first_poll_after from its submit, or now if that has passed): a read
  // earlier than that would predict its finish from too little. One read
  // before is read now. False when nothing changes.
  bool on_handed_back(ExportJob& job, TimePoint now) const;
  // How one try of the download ended; `progressed`: it moved the part past
  // the most it held before (moved_on), not merely wrote bytes. A
  // refused link is followed by a progress call for a fresh one; a cut after
  // progress goes on at once; a full disk waits without counting as a
  // failure; other failures back off and end the job as download_failed
  // when retry.max_attempts tries in a row made no progress.
  JobEvent on_fetch(ExportJob& job, FetchEnd end, bool progressed, std::string_view why, TimePoint now,
                    double unit_random) const;
  // The video is in place: the job has succeeded, or is to be delivered.
  JobEvent on_downloaded(ExportJob& job, TimePoint now) const;
  // How a run of the delivery command ended: succeeded, retried after the
  // retry policy's wait, or failed (delivery_failed) once retry.max_attempts
  // runs in a row failed. (A run cut short because exportd stopped is not
  // reported: the job stays delivering, and the journal delivers it again.)
  JobEvent on_delivered(ExportJob& job, const DeliveryEnd& end, TimePoint now, double unit_random) const;
  // No file can be named for the video (download.name over a project id
  // that makes no file name): the job fails, its link kept in its result.
  JobEvent on_no_file(ExportJob& job, std::string why, std::string download_url) const;
  // A job the journal recovered at a restart, where it had got to: queued,
  // in_doubt (probe before sending again), polling or downloading the
  // export of `project_id` accepted at `submitted_at` (its deadline counts
  // from there). Nothing is sent again for an accepted export.
  // `reach`: what an in_doubt create may have done (accepted: never sent
  // again); its lookup waits create_settle from `now`.
  void on_recovered(ExportJob& job, JobState state, std::string project_id, TimePoint submitted_at,
                    CreateReach reach, TimePoint now) const;

  const PollPolicy& poll_policy() const { return poll_; }

 private:
  // A download's try failed (not an API call): tried again after the
  // retry policy's wait, or the job fails with `error`.
  JobEvent retry_download(ExportJob& job, JobError error, TimePoint now, double unit_random) const;
  PollPolicy poll_;
  RetryPolicy retry_;
  bool downloads_ = false;
  bool delivers_ = false;
  // Done with the export (and the download): delivering, or succeeded.
  JobEvent finished(ExportJob& job, std::string download_url, TimePoint now) const;
};

// How long a download waits for disk space before it looks again.
inline constexpr Millis disk_full_pause{10'000};
// How long after a create may have reached the API its first lookup waits
// (after a restart too): a list may show a new project a little late, and
// a lookup that says "absent" lets the create go again.
inline constexpr Millis create_settle{5'000};

}  // namespace exportd
