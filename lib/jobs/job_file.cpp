#include "jobs/job_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <boost/json/parse.hpp>

#include "ops/below.hpp"
#include "ops/file_read.hpp"
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

struct JobContext {
  const JobFileOrigin& origin;
  const JobDefaults& defaults;
  ScenesCheck check;
  ScenesVerdicts& verdicts;
  Diagnostics* scenes_apart;  // where a scenes file's faults go, when kept apart from the file's own
};

std::optional<JobSpec> read_job(const YAML::Node& node, const JobContext& context, Diagnostics& diags) {
  const auto& origin = context.origin;
  const auto& defaults = context.defaults;
  YamlMap m(node, "a job", diags);
  if (!m.valid()) return std::nullopt;
  const std::size_t before = diags.items().size();
  JobSpec job;
  job.resolution = defaults.resolution;
  job.workspace_id = defaults.workspace_id;
  job.webhook_url = defaults.webhook_url;

  auto project_id = m.string("project_id");
  auto scenes_file = m.string("scenes_file");
  auto id = m.string("id");
  auto name = m.string("name");
  auto orientation = m.string("orientation");
  if (auto v = m.string("resolution")) {
    if (is_valid_resolution(*v))
      job.resolution = *v;
    else
      diags.add(m.value_mark("resolution"), "resolution '" + *v + "' is not one of 4k, 1080, 720, 480");
  }
  if (auto v = m.string("workspace_id")) {
    job.workspace_id = *v;
    if (!v->empty() && has_control(*v))
      diags.add(m.value_mark("workspace_id"), "workspace_id holds control characters");
  }
  if (auto v = m.string("webhook_url")) {
    if (is_web_url(*v))
      job.webhook_url = *v;
    else
      diags.add(m.value_mark("webhook_url"), "webhook_url '" + *v + "' must start with https:// or http://");
  }
  m.reject_unknown();

  if (m.has("project_id") == m.has("scenes_file")) {
    diags.add(m.mark(),
              "a job needs exactly one of project_id (export an existing project) or scenes_file (create one)");
    return std::nullopt;
  }
  if (project_id) {
    if (auto why = id_problem("project_id", *project_id); !why.empty()) diags.add(m.value_mark("project_id"), why);
    job.kind = JobKind::export_project;
    job.project_id = *project_id;
    if (name || orientation)
      diags.add(m.value_mark(name ? "name" : "orientation"), "name and orientation only apply to scenes_file jobs");
  } else if (scenes_file) {
    job.kind = JobKind::create_project;
    fs::path p(*scenes_file);
    if (p.is_relative()) p = fs::path(origin.base_dir) / p;
    job.scenes_file = p.lexically_normal().string();
    const auto root = scenes_root_of(origin, job.scenes_file);
    if (!root && context.check == ScenesCheck::path_only) {
      // Taken in before under other roots (jobs.scenes_root changed since):
      // the file is not set aside for it; a job of it not yet sent fails
      // alone when it is sent, as its file is not below the drop folder.
      job.scenes_root = fs::path(origin.scenes_roots.front()).lexically_normal().string();
    } else if (!root) {
      // Said the same whether or not the file exists: a dropped file must not probe the disk.
      diags.add(m.value_mark("scenes_file"),
                "scenes_file '" + *scenes_file + "' is outside " + origin.scenes_roots.front() +
                    ": a dropped job file may only name scenes files inside the drop folder "
                    "(jobs.scenes_root in the config allows one more folder)");
    } else {
      job.scenes_root = *root;
      if (context.check == ScenesCheck::read) {
        const auto [it, first] = context.verdicts.try_emplace({job.scenes_file, job.scenes_root});
        if (first) {
          auto scenes = load_scenes(job.scenes_file, job.scenes_root);
          if (!scenes) it->second = scenes.error().message;
        }
        if (!it->second.empty())
          (context.scenes_apart != nullptr ? *context.scenes_apart : diags).add(m.value_mark("scenes_file"), it->second);
      }
    }
    job.name = name.value_or("");
    if (orientation) {
      if (*orientation == "landscape" || *orientation == "portrait")
        job.orientation = *orientation;
      else
        diags.add(m.value_mark("orientation"), "orientation '" + *orientation + "' is not landscape or portrait");
    }
  }
  std::string job_id = id ? *id : (project_id ? *project_id : scenes_file.value_or(""));
  if (id) {
    if (auto why = id_problem("id", *id); !why.empty()) diags.add(m.value_mark("id"), why);
  }
  job.key = origin.name + "#" + job_id;
  if (!defaults.download_name.empty() && diags.items().size() == before) {
    // The video's file, made now so that a name that would leave
    // download.dir (or clash with another job's) is caught with its line.
    const bool pending = job.kind == JobKind::create_project && uses_project_id(defaults.download_name);
    auto file = render_name(defaults.download_name,
                            {file_stem(origin.name), job_id, pending ? "project" : job.project_id, job.resolution});
    const auto* key = id ? "id" : (project_id ? "project_id" : "scenes_file");
    if (!file) diags.add(m.value_mark(key), file.error().message);
    else if (!pending) job.file_name = std::move(*file);
  }
  if (diags.items().size() != before) return std::nullopt;
  return job;
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
  std::set<std::string> keys;
  std::map<std::string, std::string> files;  // video file -> the job id writing it
  ScenesVerdicts verdicts;
  const JobContext context{origin, defaults, check, verdicts, scenes_apart};
  auto add = [&](const YAML::Node& node) {
    if (auto job = read_job(node, context, diags)) {
      const auto job_id = job->key.substr(job->key.find('#') + 1);
      if (!keys.insert(job->key).second) {
        diags.add(node.Mark(), "duplicate job id '" + job_id + "' in this file; give each job a distinct 'id'");
        return;
      }
      if (!job->file_name.empty()) {
        if (const auto [it, fresh] = files.emplace(job->file_name, job_id); !fresh) {
          diags.add(node.Mark(), "job '" + job_id + "' would download to the same file as job '" + it->second +
                                     "' (" + job->file_name + "); give the jobs distinct ids or put more into download.name");
          return;
        }
      }
      jobs.push_back(std::move(*job));
    }
  };
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

JobFileRead read_job_file_once(const std::string& path, const JobDefaults& defaults, const std::string& text) {
  Diagnostics scenes(path);
  JobFileRead out{read_jobs(path, defaults, {}, &text, ScenesCheck::read, &scenes), std::nullopt};
  if (out.jobs && !scenes.empty()) out.scenes = scenes.failure();
  return out;
}

}  // namespace exportd
