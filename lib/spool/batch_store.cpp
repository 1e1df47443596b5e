#include "spool/batch_store.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "jobs/job_file.hpp"
#include "ops/batch_summary.hpp"
#include "ops/file_read.hpp"
#include "ops/retention.hpp"
#include "ops/time_format.hpp"
#include "text/safe_text.hpp"

#include <sys/stat.h>

namespace exportd {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

bool is_queue_batch_id(const std::string& id) {
  const auto a = id.find('-');
  return a != std::string::npos && a + 1 < id.size() && id[a + 1] == 'q';
}

std::string utc_stamp() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return stamp;
}

}  // namespace

BatchStore::BatchStore(boost::asio::any_io_executor ex, Spool& spool, Logger& log)
    : ex_(ex), spool_(spool), log_(log) {}

std::uint64_t BatchStore::results_size() const {
  std::error_code ec;
  const auto size = fs::file_size(spool_.results_path(), ec);
  return ec ? 0 : size;
}

JournalRecord BatchStore::batch_header(const std::string& id, const std::string& name, const BatchOrigin& origin,
                                       const std::string& base_dir, const std::string& digest) {
  if (results_) results_->flush();  // the offset must cover every line already ended
  JournalRecord h;
  h.kind = RecordKind::batch;
  h.batch = id;
  h.name = name;
  h.origin = origin;
  h.base_dir = base_dir;
  h.digest = digest;
  h.results_offset = results_size();
  h.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
  return h;
}

Result<std::vector<JobSpec>> BatchStore::load_snapshot(const JournalRecord& header, const JobDefaults& defaults,
                                                       ScenesCheck scenes) {
  const auto path = spool_.snapshot(header.batch);
  std::optional<std::string> content;
  if (!header.snapshot_digest.empty()) {
    // The file in active/ is exportd's copy: one changed after the claim is
    // not what was validated and accepted, so it is not run.
    auto read = read_regular_file(path, max_job_file_bytes);
    if (!read) return Failure{read.error().code, "cannot be read back: " + read.error().message};
    if (content_digest(*read) != header.snapshot_digest)
      return Failure{Errc::invalid_input, "changed after it was claimed"};
    content = std::move(*read);
  }
  const auto origin = header.origin.kind == BatchOrigin::Kind::drop ? drop_file_origin(header.name, header.base_dir, defaults)
                                              : JobFileOrigin{header.name, header.base_dir, {}, {}};
  auto specs = load_job_file(path, defaults, origin, content ? &*content : nullptr, scenes);
  if (!specs) return Failure{specs.error().code, "cannot be read back: " + specs.error().message};
  if (rows_digest(*specs) != header.rows_digest)
    return Failure{Errc::invalid_input,
                   "names a rows file (CSV) that changed after the batch was taken in: its rows are not the ones "
                   "checked and journaled; leave a batch's rows file as it is until the batch ends, and put changed "
                   "rows in a new file"};
  return specs;
}

void BatchStore::set_aside(const RecoveredBatch& b, const std::string& why) {
  // Jobs the journal knows were started get a result, so none vanishes: the
  // operator sees each in results.jsonl, with the project it was sent for.
  std::string started;
  std::size_t n = 0;
  for (const auto& [key, job] : b.jobs) {
    if (job.state == Recovery::ended || job.state == Recovery::fresh) continue;
    JobResult r;
    r.job = key;
    r.batch = b.header.batch;
    r.project_id = job.project_id;
    r.status = JobOutcome::failed;
    r.error =
        JobError{Errc::rejected, "job_file_changed",
                 "its job file in active/ " + why + "; this job was " +
                     (export_accepted(job.state) ? "exported (project " + job.project_id + ")" : "possibly exported") +
                     " and is no longer followed"};
    r.download_url = job.download.url;
    if (export_accepted(job.state))
      r.submitted_at = job.submitted_at();
    r.finished_at = std::chrono::system_clock::now();
    r.attempts = job.submissions;
    results_->append(r);
    if (n++ < 20) started += "\n  " + key + (job.project_id.empty() ? "" : " (project " + job.project_id + ")");
  }
  results_->flush();
  const auto text = "active/" + b.header.batch + " " + why + "; its jobs were not run from it." +
                    (n > 0 ? "\nJobs started before (each has a failed result in results.jsonl):" + started : "") +
                    "\n";
  spool_.reject_batch(b.header.batch, text);
  last_error_ = "batch " + b.header.batch + " " + why;
  log_.error("batch_set_aside",
             {{"batch", b.header.batch}, {"why", why}, {"jobs_started", std::to_string(n)}, {"moved_to", "rejected/"}});
}

void BatchStore::repair_results(const RecoveredBatch& b) {
  std::vector<const RecoveredJob*> ended;
  for (const auto& [key, job] : b.jobs)
    if (job.state == Recovery::ended) ended.push_back(&job);
  if (ended.empty()) return;
  // Which of them already have their line (written after the batch began)?
  // In results.jsonl from the batch's offset; or, if it was rotated since,
  // in the files rotated from the batch's start on and all of results.jsonl.
  std::vector<std::pair<std::string, std::uint64_t>> sources;
  const auto began = std::chrono::system_clock::time_point(std::chrono::milliseconds(b.header.at_ms));
  const auto first = rotated_results_name(began - std::chrono::seconds(2));
  for (const auto& name : rotated_results_in(spool_.root()))
    if (b.header.at_ms == 0 || name >= first) sources.emplace_back(spool_.root() + "/" + name, 0);
  sources.emplace_back(spool_.results_path(), sources.empty() ? b.header.results_offset : 0);
  std::set<std::string> present;
  std::string line;
  for (const auto& [path, offset] : sources) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    while (std::getline(in, line)) {
      boost::system::error_code ec;
      auto v = json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      const auto& o = v.as_object();
      const auto* batch = o.if_contains("batch");
      const auto* job = o.if_contains("job");
      if (batch && job && batch->is_string() && job->is_string() && batch->as_string() == b.header.batch)
        present.insert(std::string(job->as_string()));
    }
  }
  std::size_t repaired = 0;
  for (const auto* job : ended) {
    const auto* key = job->result.if_contains("job");
    if (key == nullptr || !key->is_string() || present.count(std::string(key->as_string()))) continue;
    results_->append_line(json::serialize(job->result));
    ++repaired;
  }
  if (repaired > 0) {
    results_->flush();
    log_.warning("results_repaired", {{"batch", b.header.batch}, {"lines", std::to_string(repaired)}});
  }
}

namespace {

// The downtime and the export spans the journal shows (SPEC §9's restart rule).
RestartFacts restart_facts_of(const JournalReplay& rep, const std::string& journal_path) {
  RestartFacts facts;
  if (struct stat st{}; ::stat(journal_path.c_str(), &st) == 0)
    facts.last_alive = std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                                                             std::chrono::nanoseconds(st.st_mtim.tv_nsec));
  const auto time_in = [](const boost::json::object& o,
                          const char* key) -> std::optional<std::chrono::system_clock::time_point> {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return parse_rfc3339(std::string(v->as_string()));
  };
  for (const auto& b : rep.batches)
    for (const auto& [key, job] : b.jobs) {
      if (job.state != Recovery::ended || outcome_of(job.result) != JobOutcome::succeeded) continue;
      const auto from = time_in(job.result, "submitted_at"), to = time_in(job.result, "finished_at");
      if (from && to) facts.saw_export(std::chrono::duration_cast<std::chrono::milliseconds>(*to - *from));
    }
  return facts;
}

}  // namespace

std::vector<PendingBatch> BatchStore::recover(const JobDefaults& defaults) {
  results_.emplace(spool_.results_path());
  results_->rotate_past(retention_.results_max_size, retention_.results_keep);
  const auto rep = replay(Journal::read_all(spool_.journal_path()));
  restart_facts_ = restart_facts_of(rep, spool_.journal_path());
  if (rep.torn_tail)
    log_.warning("journal_torn_tail", {{"what", "the last journal line was cut short by a crash; ignored"}});
  if (rep.bad_lines > 0) log_.warning("journal_bad_lines", {{"count", std::to_string(rep.bad_lines)}});

  std::vector<PendingBatch> pending;
  JournalReplay live = rep;  // what the compacted journal keeps
  std::set<std::string> known;
  for (auto& b : live.batches) {
    known.insert(b.header.batch);
    if (b.closed) {
      spool_.file_away(b.header.batch);  // a crash may have come between "closed" and the move
      continue;
    }
    // Its scenes files are not read again: a job sent already never needs
    // them, and one not yet sent reads them as it is sent (and fails alone).
    auto specs = load_snapshot(b.header, defaults, ScenesCheck::path_only);
    if (!specs) {
      set_aside(b, specs.error().message);
      b.closed = true;
      continue;
    }
    repair_results(b);
    OpenBatch open{b.header, {}, 0};
    PendingBatch p{b.header.batch, {}, {}};
    for (auto& spec : *specs) {
      auto it = b.jobs.find(spec.key);
      const RecoveredJob job = it == b.jobs.end() ? RecoveredJob{} : it->second;
      if (job.state == Recovery::ended) {
        open.ended[spec.key] = ended_job(job);
        continue;
      }
      p.specs.push_back(std::move(spec));
      p.states.push_back(job);
    }
    open.unfinished = static_cast<std::uint32_t>(p.specs.size());
    open_[b.header.batch] = std::move(open);
    if (!p.specs.empty()) pending.push_back(std::move(p));
  }

  // Claimed files whose batch record never reached the journal: nothing of them started.
  std::error_code ec;
  std::vector<std::string> orphans;
  for (const auto& e : fs::directory_iterator(spool_.active(), ec)) {
    const auto id = e.path().filename().string();
    if (known.count(id) == 0 && id.find(".tmp") == std::string::npos) orphans.push_back(id);
  }

  Journal::rewrite(spool_.journal_path(), compact(live));
  journal_.emplace(ex_, spool_.journal_path());

  for (const auto& id : orphans) {
    if (is_queue_batch_id(id)) {
      fs::remove(spool_.snapshot(id), ec);  // its queue file is read again anyway
      continue;
    }
    const auto name = name_from_batch_id(id);
    auto header = batch_header(id, name, BatchOrigin::drop(), spool_.incoming(), "");
    auto specs = load_snapshot(header, defaults, ScenesCheck::read);  // never begun: taken in as a new drop
    if (!specs) {
      spool_.reject_batch(id, "active/" + id + " " + specs.error().message + "\n");
      log_.warning("rejected", {{"file", id}, {"why", std::string(specs.error().first_line())}});
      continue;
    }
    if (auto content = read_file(spool_.snapshot(id)); !content.empty())
      header.snapshot_digest = content_digest(content);
    header.rows_digest = rows_digest(*specs);
    journal_->commit_now(header);
    OpenBatch open{header, {}, static_cast<std::uint32_t>(specs->size())};
    open_[id] = std::move(open);
    pending.push_back({id, std::move(*specs), {}});
  }

  // Batches whose jobs have all ended (a crash after the last one).
  for (auto it = open_.begin(); it != open_.end();) {
    const auto& b = it->second;
    bool all_ok = true;
    for (const auto& [key, e] : b.ended) all_ok = all_ok && e.succeeded;
    const bool done = b.unfinished == 0;
    if (done && (!b.queue() || all_ok)) {
      const auto id = it->first;
      ++it;
      close(id);
    } else {
      ++it;
    }
  }
  return pending;
}

std::optional<PendingBatch> BatchStore::take_drop_file(const std::string& name, const JobDefaults& defaults) {
  auto claimed = claim_drop(name);
  if (!claimed) return std::nullopt;
  return accept_drop(*claimed, read_drop(*claimed, defaults));
}

std::optional<ClaimedDrop> BatchStore::claim_drop(const std::string& name) {
  const auto shown = spool_.incoming() + "/" + name;
  struct stat st {};
  if (::lstat(shown.c_str(), &st) != 0) return std::nullopt;  // gone already
  std::string refusal;
  if (!S_ISREG(st.st_mode))
    refusal =
        "not a regular file (a folder, FIFO, device or link is never read); drop job files by renaming a complete file "
        "into place";
  else if (!is_utf8(name) || has_control(name))
    refusal = "the file name is not valid UTF-8 text (or holds control characters); rename the file";
  if (!refusal.empty()) {
    spool_.reject(name, terminal_safe(shown) + ":1:1: " + refusal + "\n");
    last_error_ = terminal_safe(shown) + ": " + refusal;
    log_.warning("rejected", {{"file", name}, {"first", refusal}});
    return std::nullopt;
  }
  const auto batch = spool_.new_batch_id(name);
  if (auto claimed = spool_.claim(name, batch); !claimed) {
    log_.warning("claim_failed", {{"file", name}, {"error", claimed.error().message}});
    return std::nullopt;
  }
  return ClaimedDrop{name, batch};
}

DropContent BatchStore::read_drop(const ClaimedDrop& drop, const JobDefaults& defaults) const {
  // Read once: for the jobs and for the digest that guards the claimed copy.
  DropContent out{read_regular_file(spool_.snapshot(drop.batch), max_job_file_bytes), Failure{}};
  auto origin = drop_file_origin(drop.name, spool_.incoming(), defaults);
  origin.shown = spool_.incoming() + "/" + drop.name;
  try {
    out.specs = load_job_file(spool_.snapshot(drop.batch), defaults, origin, out.content ? &*out.content : nullptr);
  } catch (const std::exception& e) {  // off the loop: nothing may escape the thread
    out.specs = Failure{Errc::unreadable, origin.shown + ":1:1: cannot be read: " + e.what()};
  }
  return out;
}

std::optional<PendingBatch> BatchStore::accept_drop(const ClaimedDrop& drop, DropContent read) {
  const auto& name = drop.name;
  const auto& batch = drop.batch;
  auto& specs = read.specs;
  if (!specs) {
    // Back out of active/ into rejected/, with the reasons beside it.
    const auto& problems = specs.error().message;
    write_file_durably(spool_.error_note(name), problems + "\n");
    if (::rename(spool_.snapshot(batch).c_str(), (spool_.rejected() + "/" + name).c_str()) != 0)
      throw std::system_error(errno, std::generic_category(),
                              "cannot move " + spool_.snapshot(batch) + " to rejected/");
    sync_directory(spool_.rejected());
    sync_directory(spool_.active());
    const auto first = std::string(specs.error().first_line());
    last_error_ = first;
    log_.warning("rejected", {{"file", name},
                              {"problems", std::to_string(std::count(problems.begin(), problems.end(), '\n') + 1)},
                              {"first", first}});
    return std::nullopt;
  }
  auto header = batch_header(batch, name, BatchOrigin::drop(), spool_.incoming(), "");
  header.snapshot_digest = content_digest(read.content ? *read.content : read_file(spool_.snapshot(batch)));
  header.rows_digest = rows_digest(*specs);
  journal_->commit_now(header);
  open_[batch] = OpenBatch{header, {}, static_cast<std::uint32_t>(specs->size())};
  log_.info("claimed", {{"file", name}, {"batch", batch}, {"jobs", std::to_string(specs->size())}});
  return PendingBatch{batch, std::move(*specs), {}};
}

Result<std::optional<PendingBatch>> BatchStore::take_queue_file(const std::string& path, const JobDefaults& defaults,
                                                                bool fresh) {
  return accept_queue_file(read_queue_file(path, defaults), fresh);
}

QueueRead read_queue_file(const std::string& path, const JobDefaults& defaults) {
  QueueRead out{path, {}, Failure{}, std::nullopt};
  try {
    auto text = read_regular_file(path, max_job_file_bytes);
    if (!text) {
      out.jobs = Failure{text.error().code, path + ":1:1: " + text.error().message};
      return out;
    }
    // Read once, parsed once: the jobs that run are the ones in the bytes
    // the journal keeps (accept_queue_file writes these to active/).
    out.content = std::move(*text);
    auto read = read_job_file_once(path, defaults, out.content);
    out.jobs = std::move(read.jobs);
    // Scenes files matter only for a new batch (accept_queue_file): the same
    // batch run again never needs those of its jobs that ended or were sent.
    out.scenes = std::move(read.scenes);
  } catch (const std::exception& e) {  // possibly off the loop: nothing may escape the thread
    out.jobs = Failure{Errc::unreadable, path + ":1:1: cannot be read: " + e.what()};
  }
  return out;
}

Result<std::optional<PendingBatch>> BatchStore::accept_queue_file(QueueRead read, bool fresh) {
  const auto& path = read.path;
  const auto absolute = fs::absolute(path).lexically_normal().string();
  const auto origin = BatchOrigin::queue(absolute);
  auto& specs = read.jobs;
  if (!specs) {
    last_error_ = std::string(specs.error().first_line());
    return specs.error();
  }
  const auto& content = read.content;
  // Its rows files are part of its content: the same queue file over
  // changed rows is a new batch (a run again of the old one would skip the new ids).
  const auto rows = rows_digest(*specs);
  const auto digest = content_digest(absolute + "\n" + content + (rows.empty() ? "" : "\nrows " + rows));

  for (auto it = open_.begin(); it != open_.end(); ++it) {
    auto& b = it->second;
    if (b.header.origin != origin) continue;
    if (b.header.digest == digest && fresh && b.unfinished > 0) {
      log_.warning("fresh_refused", {{"batch", b.header.batch},
                                     {"why", "this queue file's batch still has jobs in flight; it goes on instead"}});
      return std::nullopt;
    }
    if (b.header.digest == digest && !fresh) {
      // The same batch again: retry what failed, leave what succeeded. A
      // create that may have made its project is looked up, one whose
      // project is known polls it: none is created twice (run_again).
      const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      PendingBatch p{b.header.batch, {}, {}};
      for (auto& spec : *specs) {
        auto e = b.ended.find(spec.key);
        if (e == b.ended.end() || e->second.succeeded) continue;
        p.specs.push_back(spec);
        p.states.push_back(run_again(e->second, now_ms));
      }
      if (p.specs.empty()) return std::nullopt;
      JournalRecord r;
      r.kind = RecordKind::reopened;
      r.batch = b.header.batch;
      r.at_ms = now_ms;
      journal_->commit_now(r);
      for (const auto& s : p.specs) b.ended.erase(s.key);
      b.unfinished += static_cast<std::uint32_t>(p.specs.size());
      log_.info("batch_reopened", {{"batch", b.header.batch}, {"retrying", std::to_string(p.specs.size())}});
      return p;
    }
    if (b.unfinished == 0) {
      // Superseded (new content, or --fresh) and nothing of it is running: close it.
      const auto id = it->first;
      close(id);
      break;
    }
  }

  if (read.scenes) {  // a new batch: every scenes file it names must be there and sound
    last_error_ = std::string(read.scenes->first_line());
    return *read.scenes;
  }
  const auto name = fs::path(path).filename().string();
  const auto batch = utc_stamp() + "-q" + digest + "-" + bounded_text(name, 180);
  spool_.write_snapshot(batch, content);
  auto header = batch_header(batch, name, origin, fs::path(absolute).parent_path().string(), digest);
  header.snapshot_digest = content_digest(content);
  header.rows_digest = rows;
  journal_->commit_now(header);
  open_[batch] = OpenBatch{header, {}, static_cast<std::uint32_t>(specs->size())};
  log_.info("queued", {{"file", path}, {"batch", batch}, {"jobs", std::to_string(specs->size())}});
  return PendingBatch{batch, std::move(*specs), {}};
}

boost::asio::awaitable<void> BatchStore::submit_started(const std::string& batch, const std::string& job) {
  JournalRecord r;
  r.kind = RecordKind::submit;
  r.batch = batch;
  r.job = job;
  co_await journal_->commit(r);
}

boost::asio::awaitable<void> BatchStore::submitted(const std::string& batch, const std::string& job,
                                                   const std::string& project,
                                                   std::chrono::system_clock::time_point at) {
  JournalRecord r;
  r.kind = RecordKind::submitted;
  r.batch = batch;
  r.job = job;
  r.project = project;
  r.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  co_await journal_->commit(r);
}

void BatchStore::post_results_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  boost::asio::post(ex_, [this] {
    flush_posted_ = false;
    results_->flush();
  });
}

boost::asio::awaitable<void> BatchStore::downloading(const std::string& batch, const std::string& job,
                                                     const DownloadRecord& record) {
  JournalRecord r;
  r.kind = RecordKind::download;
  r.batch = batch;
  r.job = job;
  r.download = record;
  co_await journal_->commit(r);
}

boost::asio::awaitable<void> BatchStore::delivering(const std::string& batch, const std::string& job,
                                                    const DeliveryRecord& record) {
  JournalRecord r;
  r.kind = RecordKind::delivering;
  r.batch = batch;
  r.job = job;
  r.delivery = record;
  co_await journal_->commit(r);
}

boost::asio::awaitable<void> BatchStore::ended(const std::string& batch, const JobResult& result) {
  JournalRecord r;
  r.kind = RecordKind::ended;
  r.batch = batch;
  r.job = result.job;
  r.result = to_json(result);
  r.reach = result.reach;
  if (result.created) r.created = result.project_id;
  co_await journal_->commit(r);  // first the journal: a crash now re-appends the line at start-up
  results_->append(result);
  post_results_flush();
  if (auto it = open_.find(batch); it != open_.end()) {
    it->second.ended[result.job] = EndedJob{result.status == JobOutcome::succeeded, r.reach, r.created};
    if (it->second.unfinished > 0) --it->second.unfinished;
  }
  if (result.error) last_error_ = result.job + ": " + result.error->code + " " + result.error->message;
}

boost::asio::awaitable<void> BatchStore::batch_ended(const std::string& batch) {
  auto it = open_.find(batch);
  if (it == open_.end() || it->second.unfinished > 0) co_return;
  bool all_ok = true;
  for (const auto& [key, e] : it->second.ended) all_ok = all_ok && e.succeeded;
  if (it->second.queue() && !all_ok) {
    log_.info("batch_parked",
              {{"batch", batch}, {"why", "some jobs failed; running the queue file again retries them"}});
    co_return;
  }
  results_->flush();
  close(batch);
}

Pruned BatchStore::prune(std::chrono::system_clock::time_point now) {
  filed_since_prune_ = 0;
  const auto p = prune_spool(spool_, retention_, now);
  if (p.total() > 0)
    log_.info("pruned", {{"done", std::to_string(p.done)},
                         {"rejected", std::to_string(p.rejected)},
                         {"results_files", std::to_string(p.results)}});
  return p;
}

void BatchStore::close(const std::string& batch) {
  JournalRecord r;
  r.kind = RecordKind::closed;
  r.batch = batch;
  journal_->commit_now(r);
  spool_.file_away(batch);
  open_.erase(batch);
  // The count limits hold between the hourly prunes too: a look every
  // hundredth of the limit keeps done/ within 1 % of it.
  const auto every = std::max<std::uint32_t>(1, retention_.done_max_files / 100);
  if (retention_.done_max_files > 0 && ++filed_since_prune_ >= every) prune(std::chrono::system_clock::now());
  log_.info("batch_done", {{"batch", batch}});
  maybe_compact();
}

void BatchStore::maybe_compact() {
  // A long-running daemon would otherwise grow the journal by every job it
  // ever ran. Only between commits: nothing may be pending.
  std::error_code ec;
  const auto size = fs::file_size(spool_.journal_path(), ec);
  if (ec || size < compact_above_ || !journal_ || journal_->pending()) return;
  const auto live = replay(Journal::read_all(spool_.journal_path()));
  journal_->replace(compact(live));
  const auto after = fs::file_size(spool_.journal_path(), ec);
  compact_above_ = std::max<std::uintmax_t>(compact_floor, 4 * (ec ? 0 : after));
  log_.info("journal_compacted", {{"bytes_before", std::to_string(size)}, {"bytes_after", std::to_string(after)}});
}

}  // namespace exportd
