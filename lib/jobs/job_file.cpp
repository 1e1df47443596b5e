#include "jobs/job_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json/parse.hpp>

namespace exportd {

namespace fs = std::filesystem;

namespace {

bool is_web_url(const std::string& u) {
  return u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0;
}

std::optional<JobSpec> read_job(const YAML::Node& node, const JobFileOrigin& origin, const JobDefaults& defaults,
                                Diagnostics& diags) {
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
    if (is_valid_resolution(*v)) job.resolution = *v;
    else diags.add(m.value_mark("resolution"), "resolution '" + *v + "' is not one of 4k, 1080, 720, 480");
  }
  if (auto v = m.string("workspace_id")) job.workspace_id = *v;
  if (auto v = m.string("webhook_url")) {
    if (is_web_url(*v)) job.webhook_url = *v;
    else diags.add(m.value_mark("webhook_url"), "webhook_url '" + *v + "' must start with https:// or http://");
  }
  m.reject_unknown();

  if (m.has("project_id") == m.has("scenes_file")) {
    diags.add(m.mark(), "a job needs exactly one of project_id (export an existing project) or scenes_file (create one)");
    return std::nullopt;
  }
  if (project_id) {
    if (project_id->empty()) diags.add(m.value_mark("project_id"), "project_id is empty");
    job.kind = JobKind::export_project;
    job.project_id = *project_id;
    if (name || orientation)
      diags.add(m.value_mark(name ? "name" : "orientation"), "name and orientation only apply to scenes_file jobs");
  } else if (scenes_file) {
    job.kind = JobKind::create_project;
    fs::path p(*scenes_file);
    if (p.is_relative()) p = fs::path(origin.base_dir) / p;
    job.scenes_file = p.lexically_normal().string();
    std::string error;
    if (!load_scenes(job.scenes_file, error)) diags.add(m.value_mark("scenes_file"), error);
    job.name = name.value_or("");
    if (orientation) {
      if (*orientation == "landscape" || *orientation == "portrait") job.orientation = *orientation;
      else diags.add(m.value_mark("orientation"), "orientation '" + *orientation + "' is not landscape or portrait");
    }
  }
  std::string job_id = id ? *id : (project_id ? *project_id : scenes_file.value_or(""));
  if (id && id->empty()) diags.add(m.value_mark("id"), "id is empty");
  job.key = origin.name + "#" + job_id;
  if (diags.items().size() != before) return std::nullopt;
  return job;
}

}  // namespace

std::optional<boost::json::value> load_scenes(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open scenes file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(text.str(), ec);
  if (ec) {
    error = "scenes file " + path + " is not valid JSON: " + ec.message();
    return std::nullopt;
  }
  if (v.is_object() && v.as_object().contains("scenes")) v = v.as_object()["scenes"];
  if (!v.is_array() || v.as_array().empty()) {
    error = "scenes file " + path + " must hold a non-empty JSON array of scenes (or an object with one under \"scenes\")";
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<JobSpec>> load_job_file(const std::string& path, const JobDefaults& defaults,
                                                  Diagnostics& diags, const JobFileOrigin& given) {
  JobFileOrigin origin = given;
  if (origin.name.empty()) origin.name = fs::path(path).filename().string();
  if (origin.base_dir.empty()) origin.base_dir = fs::path(path).parent_path().string();
  auto doc = load_yaml_file(path, diags);
  if (!doc) return std::nullopt;
  std::vector<JobSpec> jobs;
  std::set<std::string> keys;
  auto add = [&](const YAML::Node& node) {
    if (auto job = read_job(node, origin, defaults, diags)) {
      if (!keys.insert(job->key).second)
        diags.add(node.Mark(), "duplicate job id '" + job->key.substr(job->key.find('#') + 1) +
                                   "' in this file; give each job a distinct 'id'");
      else
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
  if (!diags.empty()) return std::nullopt;
  return jobs;
}

}  // namespace exportd
