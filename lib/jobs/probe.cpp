#include "jobs/probe.hpp"

#include "ops/digest.hpp"

namespace exportd {

ProbeFinding read_probe(const ApiResult<boost::json::object>& reply, JobKind kind, std::string_view tagged_name,
                        std::string_view project_id) {
  ProbeFinding f;
  if (!reply) {
    // A permanent refusal (unknown project) means no export of ours exists.
    const auto& e = reply.error();
    if (is_transient(e.kind) || e.kind == Errc::credentials || e.kind == Errc::tls) f.retry = e;
    return f;
  }
  const auto& data = *reply;
  if (kind == JobKind::create_project) {
    for (const auto& p : read_project_list(data))
      if (p.name == tagged_name) f.running = p.id;
    return f;
  }
  auto progress = read_progress(data);
  if (progress && progress->progress < 100.0 && !progress->failed_state()) f.running = std::string(project_id);
  return f;
}

std::string tagged_project_name(const std::string& name, const std::string& batch, const std::string& key) {
  const std::string tag = "exportd-" + content_digest(batch + "/" + key);
  return name.empty() ? tag : name + " [" + tag + "]";
}

}  // namespace exportd
