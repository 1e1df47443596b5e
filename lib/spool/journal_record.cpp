#include "spool/journal_record.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "ops/results.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace json = boost::json;

namespace {

constexpr std::pair<RecordKind, std::string_view> kind_names[] = {
    {RecordKind::batch, "batch"},   {RecordKind::submit, "submit"}, {RecordKind::submitted, "submitted"},
    {RecordKind::ended, "ended"},   {RecordKind::closed, "closed"}, {RecordKind::reopened, "reopened"},
    {RecordKind::download, "download"}, {RecordKind::delivering, "delivering"},
};

std::string_view name_of(RecordKind k) {
  for (const auto& [kind, name] : kind_names)
    if (kind == k) return name;
  return "?";
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t num(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return 0;
}

}  // namespace

EndedJob ended_job(const RecoveredJob& r) {
  return {outcome_of(r.result) == JobOutcome::succeeded, r.reach, r.created};
}

RecoveredJob run_again(const EndedJob& e, std::int64_t at_ms) {
  RecoveredJob r;
  if (e.reach != CreateReach::none) {
    r.state = Recovery::in_doubt;
    r.reach = e.reach;
  } else if (!e.created.empty() && at_ms != 0) {
    r.state = Recovery::submitted;
    r.project_id = e.created;
    r.submitted_at_ms = at_ms;
  }
  return r;
}

BatchOrigin BatchOrigin::from_text(std::string_view text) {
  constexpr std::string_view queue_prefix = "queue:";
  if (text.starts_with(queue_prefix)) return queue(std::string(text.substr(queue_prefix.size())));
  return drop();  // "drop", and anything a build of ours never wrote
}

std::string encode(const JournalRecord& r) {
  // Identities are written byte for byte: a batch id names a file in active/
  // and a job key must match its job file, so nothing here may rewrite them.
  // They are UTF-8 by construction (file names and ids are checked at the
  // door); a journal from before that rule is still read (decode below).
  json::object o;
  o["r"] = name_of(r.kind);
  o["batch"] = r.batch;
  switch (r.kind) {
    case RecordKind::batch:
      o["name"] = r.name;
      o["origin"] = r.origin.text();
      o["base_dir"] = r.base_dir;
      o["digest"] = r.digest;
      if (!r.snapshot_digest.empty()) o["snapshot_digest"] = r.snapshot_digest;
      if (!r.rows_digest.empty()) o["rows_digest"] = r.rows_digest;
      o["results_offset"] = r.results_offset;
      if (r.at_ms != 0) o["at"] = r.at_ms;  // when it began: which rotated results files may hold its lines
      break;
    case RecordKind::submit:
      o["job"] = r.job;
      break;
    case RecordKind::submitted:
      o["job"] = r.job;
      o["project"] = r.project;
      o["at"] = r.at_ms;
      break;
    case RecordKind::download:
      o["job"] = r.job;
      o["url"] = r.download.url;
      o["file"] = r.download.file;
      if (!r.download.validator.empty()) o["validator"] = r.download.validator;
      if (r.download.total) o["total"] = *r.download.total;
      if (r.download.checkpoint.bytes > 0) {
        o["checked"] = r.download.checkpoint.bytes;
        o["checked_sha256"] = r.download.checkpoint.sha256;
      }
      break;
    case RecordKind::delivering:
      o["job"] = r.job;
      o["url"] = r.delivery.url;
      if (!r.delivery.file.empty()) {
        o["file"] = r.delivery.file;
        o["sha256"] = r.delivery.sha256;
        o["bytes"] = r.delivery.bytes;
      }
      break;
    case RecordKind::ended:
      o["job"] = r.job;
      o["result"] = r.result;
      if (r.reach != CreateReach::none) o["reach"] = to_string(r.reach);
      if (!r.created.empty()) o["created"] = r.created;
      break;
    case RecordKind::reopened:
      if (r.at_ms != 0) o["at"] = r.at_ms;
      break;
    case RecordKind::closed:
      break;
  }
  return json::serialize(o);
}

std::optional<JournalRecord> decode(std::string_view line) {
  // A journal from before keys were checked may hold raw bytes in a key: its
  // lines are still read, so its jobs are recognised, not exported again.
  json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  auto v = json::parse(line, ec, {}, options);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  JournalRecord r;
  const auto kind = str(o, "r");
  bool known = false;
  for (const auto& [k, name] : kind_names)
    if (name == kind) {
      r.kind = k;
      known = true;
    }
  r.batch = str(o, "batch");
  if (!known || r.batch.empty()) return std::nullopt;
  r.job = str(o, "job");
  if ((r.kind == RecordKind::submit || r.kind == RecordKind::submitted || r.kind == RecordKind::download ||
       r.kind == RecordKind::delivering || r.kind == RecordKind::ended) &&
      r.job.empty())
    return std::nullopt;
  if (r.kind == RecordKind::delivering) {
    r.delivery.url = str(o, "url");
    r.delivery.file = str(o, "file");
    r.delivery.sha256 = str(o, "sha256");
    r.delivery.bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, num(o, "bytes")));
    // A file without a well-formed digest is not one a delivery may vouch for.
    if (!r.delivery.file.empty() && !is_lower_hex(r.delivery.sha256, 64)) return std::nullopt;
  }
  if (r.kind == RecordKind::download) {
    r.download.url = str(o, "url");
    r.download.file = str(o, "file");
    r.download.validator = str(o, "validator");
    if (const auto* t = o.if_contains("total"); t != nullptr && (t->is_uint64() || t->is_int64()))
      r.download.total = static_cast<std::uint64_t>(num(o, "total"));
    if (const auto* c = o.if_contains("checked"); c != nullptr && (c->is_uint64() || c->is_int64()) && num(o, "checked") > 0) {
      // A checkpoint without a well-formed digest vouches for nothing: the part is fetched again.
      const auto sha = str(o, "checked_sha256");
      if (is_lower_hex(sha, 64))
        r.download.checkpoint = {static_cast<std::uint64_t>(num(o, "checked")), sha};
    }
    if (r.download.url.empty() || r.download.file.empty()) return std::nullopt;
  }
  r.project = str(o, "project");  // empty in a submitted record: a create accepted without an id
  r.at_ms = num(o, "at");
  if (const auto* res = o.if_contains("result"); res != nullptr && res->is_object()) r.result = res->as_object();
  if (r.kind == RecordKind::ended && r.result.empty()) return std::nullopt;
  r.reach = create_reach_from(str(o, "reach")).value_or(CreateReach::none);
  r.created = str(o, "created");
  r.name = str(o, "name");
  r.origin = BatchOrigin::from_text(str(o, "origin"));
  r.base_dir = str(o, "base_dir");
  r.digest = str(o, "digest");
  r.snapshot_digest = str(o, "snapshot_digest");
  r.rows_digest = str(o, "rows_digest");
  r.results_offset = static_cast<std::uint64_t>(num(o, "results_offset"));
  return r;
}

JournalReplay replay(std::string_view text) {
  JournalReplay out;
  std::map<std::string, std::size_t> index;  // batch id -> position in out.batches
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.torn_tail = true;  // the crash cut this write short; it was never acted on
      break;
    }
    const auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    auto rec = decode(line);
    if (!rec) {
      ++out.bad_lines;
      continue;
    }
    ++out.records;
    if (rec->kind == RecordKind::batch) {
      if (index.count(rec->batch) != 0) continue;  // written twice: the first one stands
      index[rec->batch] = out.batches.size();
      out.batches.push_back(RecoveredBatch{*rec, false, {}});
      continue;
    }
    auto it = index.find(rec->batch);
    if (it == index.end()) {
      ++out.bad_lines;  // a record for a batch never begun: nothing to attach it to
      continue;
    }
    RecoveredBatch& b = out.batches[it->second];
    switch (rec->kind) {
      case RecordKind::closed:
        b.closed = true;
        break;
      case RecordKind::reopened:
        // Failed and timed-out jobs of a parked batch run again (run_again);
        // succeeded ones stay ended.
        for (auto& [key, job] : b.jobs) {
          if (job.state == Recovery::ended && outcome_of(job.result) != JobOutcome::succeeded)
            job = run_again(ended_job(job), rec->at_ms);
        }
        b.closed = false;
        break;
      case RecordKind::submit: {
        auto& job = b.jobs[rec->job];
        if (job.state == Recovery::ended) break;
        ++job.submissions;
        job.state = Recovery::in_doubt;
        if (job.reach == CreateReach::none) job.reach = CreateReach::maybe;  // accepted stays accepted
        job.project_id.clear();
        break;
      }
      case RecordKind::submitted: {
        auto& job = b.jobs[rec->job];
        if (job.state == Recovery::ended) break;
        if (rec->project.empty()) {  // accepted without an id: looked up, never sent again
          job.state = Recovery::in_doubt;
          job.reach = CreateReach::accepted;
          break;
        }
        job.reach = CreateReach::none;
        job.state = Recovery::submitted;
        job.project_id = rec->project;
        job.submitted_at_ms = rec->at_ms;
        break;
      }
      case RecordKind::download: {
        auto& job = b.jobs[rec->job];
        if (job.state != Recovery::submitted && job.state != Recovery::downloading) break;  // out of order: ignored
        job.state = Recovery::downloading;
        job.download = rec->download;
        break;
      }
      case RecordKind::delivering: {
        auto& job = b.jobs[rec->job];
        if (!export_accepted(job.state)) break;  // out of order: ignored
        job.state = Recovery::delivering;
        job.delivery = rec->delivery;
        break;
      }
      case RecordKind::ended: {
        auto& job = b.jobs[rec->job];
        job.state = Recovery::ended;
        job.result = rec->result;
        job.reach = rec->reach;
        job.created = rec->created;
        break;
      }
      case RecordKind::batch:
        break;
    }
  }
  return out;
}

std::vector<JournalRecord> compact(const JournalReplay& replayed) {
  std::vector<JournalRecord> out;
  for (const auto& b : replayed.batches) {
    if (b.closed) continue;
    out.push_back(b.header);
    for (const auto& [key, job] : b.jobs) {
      JournalRecord r;
      r.batch = b.header.batch;
      r.job = key;
      if (job.state == Recovery::ended) {
        r.kind = RecordKind::ended;
        r.result = job.result;
        r.reach = job.reach;
        r.created = job.created;
        out.push_back(r);
        continue;
      }
      r.kind = RecordKind::submit;
      // A job run again knows what its earlier run's create may have done.
      for (std::uint32_t i = 0; i < std::max<std::uint32_t>(job.submissions, job.state == Recovery::in_doubt); ++i)
        out.push_back(r);
      if (job.state == Recovery::in_doubt && job.reach == CreateReach::accepted) {
        r.kind = RecordKind::submitted;
        out.push_back(r);  // with no project: accepted without an id
      }
      if (export_accepted(job.state)) {
        r.kind = RecordKind::submitted;
        r.project = job.project_id;
        r.at_ms = job.submitted_at_ms;
        out.push_back(r);
      }
      if (job.state == Recovery::downloading) {
        r.kind = RecordKind::download;
        r.download = job.download;
        out.push_back(r);
      }
      if (job.state == Recovery::delivering) {
        r.kind = RecordKind::delivering;
        r.delivery = job.delivery;
        out.push_back(r);
      }
    }
  }
  return out;
}

}  // namespace exportd
