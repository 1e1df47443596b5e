#include "jobs/job_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <algorithm>
#include <array>
#include <functional>

#include <boost/json/parse.hpp>

#include "jobs/placeholders.hpp"
#include "ops/below.hpp"
#include "ops/digest.hpp"
#include "ops/file_read.hpp"
#include "text/csv.hpp"
#include "text/file_name.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace fs = std::filesystem;

namespace {

bool is_web_url(const std::string& u) {
  return (u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0) && !has_control(u) &&
         u.find(' ') == std::string::npos;
}

// Why an id (project_id, id, workspace_id) cannot be used, or "".
std::string id_problem(const std::string& key, const std::string& v) {
  if (v.find_first_not_of(" \t") == std::string::npos) return key + " is empty or blank";
  if (has_control(v)) return key + " holds control characters";
  if (v.front() == ' ' || v.back() == ' ') return key + " '" + v + "' has leading or trailing spaces";
  if (v.size() > max_id_bytes) return key + " is longer than " + std::to_string(max_id_bytes) + " bytes";
  return "";
}

// The folder a dropped file's scenes file is read below (the first allowed
// one that holds it, by its path), "" when anywhere is allowed, or nothing
// when it is outside them all. Links below that folder are refused when the
// file is read (load_scenes), so a path that leaves it by one is never followed.
std::optional<std::string> scenes_root_of(const JobFileOrigin& origin, const std::string& path) {
  if (origin.scenes_roots.empty()) return std::string();
  for (const auto& root : origin.scenes_roots) {
    const auto normal = fs::path(root).lexically_normal().string();
    if (relative_below(normal, path)) return normal;
  }
  return std::nullopt;
}

// What one read of a job file has found of each scenes file ("" = fine): each distinct file is read once.
using ScenesVerdicts = std::map<std::pair<std::string, std::string>, std::string>;

// The jobs a file has admitted so far: keys and video files are unique in a file.
// Where a job's key was given: its job entry, or a row of a rows file.
struct KeyGiven {
  const std::string* rows_file = nullptr;  // the rows' own copy of the path: nothing for a job entry
  std::uint32_t line = 0;
};

struct Admitted {
  std::map<std::string, KeyGiven> keys;      // job key -> where it was given
  std::map<std::string, std::string> files;  // video file -> the job id writing it
};

struct JobContext {
  const JobFileOrigin& origin;
  const JobDefaults& defaults;
  ScenesCheck check;
  ScenesVerdicts& verdicts;
  Diagnostics* scenes_apart;  // where a scenes file's faults go, when kept apart from the file's own
  Admitted& admitted;
  std::vector<JobSpec>& jobs;
};

// Each line of a multi-line problem (a scenes file's, one per JSON pointer) at `mark`.
void add_lines(Diagnostics& diags, const YAML::Mark& mark, const std::string& text) {
  std::size_t from = 0;
  while (from <= text.size()) {
    const auto end = std::min(text.find('\n', from), text.size());
    diags.add(mark, text.substr(from, end - from));
    from = end + 1;
  }
}

// The fields every job has, as written (or as a row filled them in).
struct JobFields {
  std::optional<std::string> id, name, orientation, resolution, workspace_id, webhook_url;
};
constexpr std::array<std::pair<std::string_view, std::optional<std::string> JobFields::*>, 6> job_fields{{
    {"id", &JobFields::id},
    {"name", &JobFields::name},
    {"orientation", &JobFields::orientation},
    {"resolution", &JobFields::resolution},
    {"workspace_id", &JobFields::workspace_id},
    {"webhook_url", &JobFields::webhook_url},
}};

using FieldProblem = std::function<void(std::string_view key, std::string message)>;

// The fields over the config's defaults; each problem reported by its key.
void apply_fields(JobSpec& job, const JobFields& f, const JobDefaults& defaults, const FieldProblem& problem) {
  job.resolution = defaults.resolution;
  job.workspace_id = defaults.workspace_id;
  job.webhook_url = defaults.webhook_url;
  if (f.resolution) {
    if (is_valid_resolution(*f.resolution))
      job.resolution = *f.resolution;
    else
      problem("resolution", "resolution '" + *f.resolution + "' is not one of 4k, 1080, 720, 480");
  }
  if (f.workspace_id) {
    job.workspace_id = *f.workspace_id;
    if (!f.workspace_id->empty() && has_control(*f.workspace_id))
      problem("workspace_id", "workspace_id holds control characters");
  }
  if (f.webhook_url) {
    if (is_web_url(*f.webhook_url))
      job.webhook_url = *f.webhook_url;
    else
      problem("webhook_url", "webhook_url '" + *f.webhook_url + "' must start with https:// or http://");
  }
  if (f.orientation) {
    if (*f.orientation == "landscape" || *f.orientation == "portrait")
      job.orientation = *f.orientation;
    else
      problem("orientation", "orientation '" + *f.orientation + "' is not landscape or portrait");
  }
  job.name = f.name.value_or("");
  if (f.id) {
    if (auto why = id_problem("id", *f.id); !why.empty()) problem("id", why);
  }
}

// The video's file, made as the job is read, so that a name that would
// leave download.dir is caught where it was given. Nothing when it waits
// for a create job's project id; `problem` when it cannot be made.
std::optional<std::string> video_file(const JobSpec& job, const std::string& job_id, const JobContext& context,
                                      const std::function<void(std::string)>& problem) {
  const auto& tmpl = context.defaults.download_name;
  if (tmpl.empty()) return std::nullopt;
  const bool pending = job.kind == JobKind::create_project && uses_project_id(tmpl);
  auto file =
      render_name(tmpl, {file_stem(context.origin.name), job_id, pending ? "project" : job.project_id, job.resolution});
  if (!file) problem(file.error().message);
  if (!file || pending) return std::nullopt;
  return std::move(*file);
}

// Takes `job` into the file's jobs unless its key or its video file is
// another's: then `problem` says so. `where`: where its key was given.
void admit(JobSpec job, const JobContext& context, KeyGiven where, const std::function<void(std::string)>& problem) {
  const auto job_id = job.key.substr(job.key.find('#') + 1);
  if (const auto [it, fresh] = context.admitted.keys.emplace(job.key, where); !fresh) {
    const auto& first = it->second;
    problem("duplicate job id '" + job_id + "' in this file" +
            (first.rows_file == nullptr
                 ? ""
                 : " (also the row at line " + std::to_string(first.line) + " of " + *first.rows_file + ")") +
            "; give each job a distinct 'id'");
    return;
  }
  if (!job.file_name.empty()) {
    if (const auto [it, fresh] = context.admitted.files.emplace(job.file_name, job_id); !fresh) {
      problem("job '" + job_id + "' would download to the same file as job '" + it->second + "' (" + job.file_name +
              "); give the jobs distinct ids or put more into download.name");
      return;
    }
  }
  context.jobs.push_back(std::move(job));
}

// A path a job names, made absolute against the job file's folder.
std::string job_path(const JobFileOrigin& origin, const std::string& given) {
  fs::path p(given);
  if (p.is_relative()) p = fs::path(origin.base_dir) / p;
  return p.lexically_normal().string();
}

std::string outside_roots(const std::string& key, const std::string& given, const JobFileOrigin& origin) {
  // Said the same whether or not the file exists: a dropped file must not probe the disk.
  return key + " '" + given + "' is outside " + origin.scenes_roots.front() + ": a dropped job file may only name " +
         key + " files inside the drop folder (jobs.scenes_root in the config allows one more folder)";
}

// Problems found in a template job's rows: each at its cell, the first
// few in full, then how many more (a file of 100,000 rows is named in a
// screenful, not in 100,000 lines).
class RowProblems {
 public:
  explicit RowProblems(std::string file) : file_(std::move(file)) {}
  void add(const CsvCell& cell, const std::string& what) {
    rows_.insert(cell.line);
    if (++count_ == shown + 1) hidden_at_ = std::to_string(cell.line) + ":" + std::to_string(cell.column);
    if (count_ > shown) return;
    lines_.push_back(file_ + ":" + std::to_string(cell.line) + ":" + std::to_string(cell.column) + ": " + what);
  }
  std::size_t count() const { return count_; }
  void report(Diagnostics& diags) const {
    for (const auto& l : lines_) diags.add_line(l);
    if (count_ > shown)
      diags.add_line(file_ + ":" + hidden_at_ + ": and " + std::to_string(count_ - shown) +
                     " more problems from here on, not shown (" + std::to_string(rows_.size()) +
                     " rows have problems in all); the file is rejected whole");
  }

 private:
  static constexpr std::size_t shown = 20;
  std::string file_;
  std::vector<std::string> lines_;
  std::set<std::uint32_t> rows_;  // the lines of the rows with a problem
  std::size_t count_ = 0;
  std::string hidden_at_;  // LINE:COL of the first problem not shown
};

std::string columns_list(const std::vector<CsvCell>& header) {
  std::string out;
  for (const auto& h : header) out += (out.empty() ? "" : ", ") + h.text;
  return bounded_text(out, 300);
}

// A `template:` + `rows:` entry (SPEC §12): one create job per row of the
// CSV, its fields and the template's strings filled in from the row. Every
// check is made before a job is admitted: the CSV itself, each placeholder
// names a column, no cell a placeholder uses is empty, each row's filled
// fields are sound and its id unique, the template matches the create
// call's schema. Any problem rejects the file whole.
void read_template_job(YamlMap& m, const JobFields& written, const std::string& template_given,
                       const std::string& rows_given, const JobContext& context, Diagnostics& diags) {
  const auto& origin = context.origin;
  const std::size_t before = diags.items().size();
  const auto template_path = job_path(origin, template_given);
  const auto rows_path = job_path(origin, rows_given);
  auto template_root = scenes_root_of(origin, template_path);
  const auto rows_root = scenes_root_of(origin, rows_path);
  if (!template_root && context.check == ScenesCheck::path_only)  // as for scenes_file: fails alone when sent
    template_root = fs::path(origin.scenes_roots.front()).lexically_normal().string();
  if (!template_root) diags.add(m.value_mark("template"), outside_roots("template", template_given, origin));
  if (!rows_root) diags.add(m.value_mark("rows"), outside_roots("rows", rows_given, origin));
  if (!written.id) {
    diags.add(m.mark(), "a template job needs an 'id' naming a column, such as id: \"{{customer_id}}\": "
                        "each row's job key is <file>#<id>");
  }
  // The columns each field uses, and placeholders that cannot be read.
  std::map<std::string_view, std::vector<std::string>> field_columns;
  for (const auto& [key, member] : job_fields) {
    const auto& value = written.*member;
    if (!value) continue;
    auto use = placeholders_in(*value);
    if (use.fault)
      diags.add(m.value_mark(key), std::string(key) + ": " + use.fault->second);
    else if (!use.columns.empty())
      field_columns[key] = std::move(use.columns);
  }
  if (written.id && field_columns.count("id") == 0)
    diags.add(m.value_mark("id"), "id '" + *written.id + "' names no column: every row would have the same id; "
                                      "write it as \"{{column}}\" with a column unique to each row");
  // The fields without placeholders, checked once where they were written.
  JobFields fixed;
  for (const auto& [key, member] : job_fields)
    if (field_columns.count(key) == 0) fixed.*member = written.*member;
  JobSpec probe;
  apply_fields(probe, fixed, context.defaults,
               [&](std::string_view key, std::string message) { diags.add(m.value_mark(key), std::move(message)); });
  if (diags.items().size() != before) return;

  // The rows, read whole and checked as CSV.
  auto opened = open_regular_file(rows_path, max_rows_file_bytes, *rows_root,
                                  "rows files of a dropped job file are never read through a link below the drop "
                                  "folder (or jobs.scenes_root)");
  auto text = opened ? read_opened(*opened, max_rows_file_bytes) : Result<std::string>(opened.error());
  if (!text) {
    diags.add(m.value_mark("rows"), "cannot read rows file " + rows_path + ": " + text.error().message);
    return;
  }
  // A batch run on after a restart is not held to a limit lowered since it was taken in.
  const CsvLimits limits{64 * 1024, context.check == ScenesCheck::read ? context.defaults.max_rows : 10'000'000};
  auto table = read_csv(*text, rows_path, limits);
  if (!table) {  // already one FILE:LINE:COL line per problem, in the rows file
    std::istringstream lines(table.error().message);
    for (std::string line; std::getline(lines, line);) diags.add_line(line);
    return;
  }
  if (table->rows.empty()) {
    diags.add(m.value_mark("rows"), "rows file " + rows_path + " has no rows below its first line");
    return;
  }
  const auto column_of = [&](std::string_view name) -> std::optional<std::size_t> {
    for (std::size_t c = 0; c < table->header.size(); ++c)
      if (table->header[c].text == name) return c;
    return std::nullopt;
  };
  const auto no_column = [&](std::string_view name) {
    return "{{" + std::string(name) + "}} names no column of " + rows_path + " (its columns: " +
           columns_list(table->header) + ")";
  };
  // Where each used column is first used (for the empty-cell message), fields first.
  std::map<std::size_t, std::string> used;
  for (const auto& [key, columns] : field_columns)
    for (const auto& name : columns) {
      if (auto c = column_of(name))
        used.emplace(*c, "the job's " + std::string(key));
      else
        diags.add(m.value_mark(key), no_column(name));
    }
  if (context.check == ScenesCheck::read && template_root) {
    // The template's faults are its scenes' (kept apart where the caller asks).
    auto& apart = context.scenes_apart != nullptr ? *context.scenes_apart : diags;
    auto scenes = load_scenes_at(template_path, *template_root);
    if (!scenes) {
      add_lines(apart, m.value_mark("template"), scenes.error().message);
    } else {
      const auto use = placeholders_in_template(scenes->scenes, scenes->pointer);
      for (const auto& fault : use.faults) apart.add(m.value_mark("template"), template_path + ": " + fault);
      for (const auto& u : use.uses) {
        if (auto c = column_of(u.column))
          used.emplace(*c, "the template at " + u.pointer);
        else
          apart.add(m.value_mark("template"), template_path + ": " + u.pointer + ": " + no_column(u.column));
      }
    }
  }
  if (diags.items().size() != before) return;

  // The cells' texts move into the rows the jobs share; the table keeps
  // only where each cell stands, for the messages below.
  auto rows = std::make_shared<TemplateRows>();
  rows->template_file = template_path;
  rows->template_root = *template_root;
  rows->rows_file = rows_path;
  rows->digest = content_digest(*text);
  *text = std::string();
  for (const auto& h : table->header) rows->columns.push_back(h.text);
  const auto width = rows->columns.size();
  rows->cells.reserve(table->rows.size() * width);
  rows->lines.reserve(table->rows.size());
  for (auto& row : table->rows) {
    for (auto& cell : row) rows->cells.push_back(std::move(cell.text));
    rows->lines.push_back(row.front().line);
  }

  RowProblems problems(rows_path);
  context.jobs.reserve(context.jobs.size() + table->rows.size());  // one allocation, not a doubling copy
  for (std::size_t r = 0; r < table->rows.size(); ++r) {
    if (r > 0) std::vector<CsvCell>().swap(table->rows[r - 1]);  // its positions are no longer needed
    const auto& cells = table->rows[r];
    const auto cell_text = [&](std::size_t c) -> const std::string& { return rows->cells[r * width + c]; };
    bool empty = false;
    for (const auto& [c, where] : used)
      if (cell_text(c).empty()) {
        problems.add(cells[c], "the cell of column '" + rows->columns[c] + "' is empty, and {{" + rows->columns[c] +
                                   "}} is used in " + where);
        empty = true;
      }
    if (empty) continue;
    const auto value = [&](std::string_view name) -> std::optional<std::string_view> {
      if (auto c = column_of(name)) return std::string_view(cell_text(*c));
      return std::nullopt;
    };
    JobFields filled = written;
    for (const auto& [key, columns] : field_columns)
      for (const auto& [k, member] : job_fields)
        if (k == key) filled.*member = fill(*(written.*member), value);
    // A field's problem is the row's: at the cell of the first column it uses.
    const auto cell_of = [&](std::string_view key) -> const CsvCell& {
      const auto it = field_columns.find(key);
      return it == field_columns.end() ? cells.front() : cells[*column_of(it->second.front())];
    };
    JobSpec job;
    const std::size_t row_before = problems.count();
    apply_fields(job, filled, context.defaults, [&](std::string_view key, std::string message) {
      problems.add(cell_of(key), message + " (the job's " + std::string(key) + " from this row)");
    });
    if (problems.count() != row_before) continue;
    const auto& id = *filled.id;
    job.kind = JobKind::create_project;
    job.key = origin.name + "#" + id;
    job.rows = rows;
    job.row = static_cast<std::uint32_t>(r);
    const auto at_id = [&](std::string message) { problems.add(cell_of("id"), message); };
    if (auto file = video_file(job, id, context, at_id)) job.file_name = std::move(*file);
    if (problems.count() != row_before) continue;
    admit(std::move(job), context, {&rows->rows_file, cells.front().line}, at_id);
  }
  problems.report(diags);
}


void read_job(const YAML::Node& node, const JobContext& context, Diagnostics& diags) {
  const auto& origin = context.origin;
  YamlMap m(node, "a job", diags);
  if (!m.valid()) return;
  const std::size_t before = diags.items().size();

  auto project_id = m.string("project_id");
  auto scenes_file = m.string("scenes_file");
  auto template_file = m.string("template");
  auto rows = m.string("rows");
  JobFields fields;
  for (const auto& [key, member] : job_fields) fields.*member = m.string(key);
  m.reject_unknown();

  const int kinds = int(m.has("project_id")) + int(m.has("scenes_file")) + int(m.has("template"));
  if (kinds != 1) {
    diags.add(m.mark(),
              "a job needs exactly one of project_id (export an existing project), scenes_file (create one) or "
              "template with rows (create one per row)");
    return;
  }
  if (m.has("template") != m.has("rows")) {
    diags.add(m.value_mark(m.has("rows") ? "rows" : "template"),
              "template and rows go together: a scenes template and the CSV of rows that fill it in");
    return;
  }
  if (diags.items().size() != before) return;  // a key of the wrong type
  if (template_file) {
    read_template_job(m, fields, *template_file, *rows, context, diags);
    return;
  }
  JobSpec job;
  apply_fields(job, fields, context.defaults,
               [&](std::string_view key, std::string message) { diags.add(m.value_mark(key), std::move(message)); });
  if (project_id) {
    if (auto why = id_problem("project_id", *project_id); !why.empty()) diags.add(m.value_mark("project_id"), why);
    job.kind = JobKind::export_project;
    job.project_id = *project_id;
    if (fields.name || fields.orientation)
      diags.add(m.value_mark(fields.name ? "name" : "orientation"),
                "name and orientation only apply to jobs that create a project (scenes_file, template)");
  } else {
    job.kind = JobKind::create_project;
    job.scenes_file = job_path(origin, *scenes_file);
    const auto root = scenes_root_of(origin, job.scenes_file);
    if (!root && context.check == ScenesCheck::path_only) {
      // Taken in before under other roots (jobs.scenes_root changed since):
      // the file is not set aside for it; a job of it not yet sent fails
      // alone when it is sent, as its file is not below the drop folder.
      job.scenes_root = fs::path(origin.scenes_roots.front()).lexically_normal().string();
    } else if (!root) {
      diags.add(m.value_mark("scenes_file"), outside_roots("scenes_file", *scenes_file, origin));
    } else {
      job.scenes_root = *root;
      if (context.check == ScenesCheck::read) {
        const auto [it, first] = context.verdicts.try_emplace({job.scenes_file, job.scenes_root});
        if (first) {
          auto scenes = load_scenes(job.scenes_file, job.scenes_root);
          if (!scenes) it->second = scenes.error().message;
        }
        if (!it->second.empty())
          add_lines(context.scenes_apart != nullptr ? *context.scenes_apart : diags, m.value_mark("scenes_file"),
                    it->second);
      }
    }
  }
  const std::string job_id = fields.id ? *fields.id : (project_id ? *project_id : scenes_file.value_or(""));
  job.key = origin.name + "#" + job_id;
  if (diags.items().size() != before) return;
  const auto* key = fields.id ? "id" : (project_id ? "project_id" : "scenes_file");
  const auto here = [&](std::string message) { diags.add(m.value_mark(key), std::move(message)); };
  if (auto file = video_file(job, job_id, context, here)) job.file_name = std::move(*file);
  if (diags.items().size() != before) return;
  admit(std::move(job), context, {}, [&](std::string message) { diags.add(m.mark(), std::move(message)); });
}

}  // namespace

JobFileOrigin drop_file_origin(const std::string& name, const std::string& incoming, const JobDefaults& defaults) {
  JobFileOrigin o{name, incoming, {incoming}, {}};
  if (!defaults.drop_scenes_root.empty()) o.scenes_roots.push_back(defaults.drop_scenes_root);
  return o;
}

namespace {

Result<std::vector<JobSpec>> read_jobs(const std::string& path, const JobDefaults& defaults, const JobFileOrigin& given,
                                       const std::string* text, ScenesCheck check, Diagnostics* scenes_apart) {
  Diagnostics diags(given.shown.empty() ? path : given.shown);
  JobFileOrigin origin = given;
  if (origin.name.empty()) origin.name = fs::path(path).filename().string();
  if (origin.base_dir.empty()) origin.base_dir = fs::path(path).parent_path().string();
  if (!is_utf8(origin.name) || has_control(origin.name)) {
    // Job keys are name#id, and they go into the journal and results.jsonl.
    diags.add_at(1, 1, "the file name is not valid UTF-8 text (or holds control characters); rename the file");
    return diags.failure();
  }
  auto doc = text != nullptr ? load_yaml_text(*text, diags) : load_yaml_file(path, diags);
  if (!doc) return diags.failure();
  std::vector<JobSpec> jobs;
  Admitted admitted;
  ScenesVerdicts verdicts;
  const JobContext context{origin, defaults, check, verdicts, scenes_apart, admitted, jobs};
  auto add = [&](const YAML::Node& node) { read_job(node, context, diags); };
  if (doc->IsMap() && (*doc)["jobs"]) {
    YamlMap top(*doc, "the job file", diags);
    auto list = top.node("jobs");
    top.reject_unknown();
    if (!list->IsSequence()) {
      diags.add(list->Mark(), "'jobs' must be a list of jobs");
    } else {
      for (const auto& node : *list) add(node);
      if (list->size() == 0) diags.add(list->Mark(), "'jobs' is empty");
    }
  } else if (doc->IsMap()) {
    add(*doc);
  } else {
    diags.add(doc->Mark(), "a job file holds one job (a mapping) or a list under 'jobs:'");
  }
  if (!diags.empty()) return diags.failure();
  return jobs;
}

}  // namespace

Result<std::vector<JobSpec>> load_job_file(const std::string& path, const JobDefaults& defaults,
                                           const JobFileOrigin& origin, const std::string* text, ScenesCheck check) {
  return read_jobs(path, defaults, origin, text, check, nullptr);
}

std::string rows_digest(const std::vector<JobSpec>& jobs) {
  std::string all;
  const TemplateRows* last = nullptr;
  for (const auto& j : jobs) {
    if (!j.rows || j.rows.get() == last) continue;  // a template entry's jobs are consecutive
    last = j.rows.get();
    all += j.rows->rows_file + "\n" + j.rows->digest + "\n";
  }
  return all.empty() ? "" : content_digest(all);
}

JobFileRead read_job_file_once(const std::string& path, const JobDefaults& defaults, const std::string& text) {
  Diagnostics scenes(path);
  JobFileRead out{read_jobs(path, defaults, {}, &text, ScenesCheck::read, &scenes), std::nullopt};
  if (out.jobs && !scenes.empty()) out.scenes = scenes.failure();
  return out;
}

}  // namespace exportd
