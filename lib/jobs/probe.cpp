#include "jobs/probe.hpp"

#include "ops/digest.hpp"

namespace exportd {

ProbeFinding read_probe(const std::variant<boost::json::object, ApiError>& reply, JobKind kind,
                        std::string_view tagged_name, std::string_view project_id) {
  ProbeFinding f;
  if (const auto* e = std::get_if<ApiError>(&reply)) {
    // A permanent refusal (unknown project) means no export of ours exists.
    if (is_transient(e->kind) || e->kind == FailureKind::credentials || e->kind == FailureKind::tls) f.retry = *e;
    return f;
  }
  const auto& data = std::get<boost::json::object>(reply);
  if (kind == JobKind::create_project) {
    for (const auto& p : read_project_list(data))
      if (p.name == tagged_name) f.running = p.id;
    return f;
  }
  auto progress = read_progress(data);
  if (const auto* p = std::get_if<ProgressReply>(&progress); p != nullptr && p->progress < 100.0 && !p->failed_state())
    f.running = std::string(project_id);
  return f;
}

std::string tagged_project_name(const std::string& name, const std::string& batch, const std::string& key) {
  const std::string tag = "exportd-" + content_digest(batch + "/" + key);
  return name.empty() ? tag : name + " [" + tag + "]";
}

}  // namespace exportd
