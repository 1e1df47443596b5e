#include "jobs/probe.hpp"

namespace exportd {

ProbeFinding read_probe(const ApiResult<boost::json::object>& reply, std::string_view project_id) {
  ProbeFinding f;
  if (!reply) {
    // A permanent refusal (unknown project) means no export of ours exists.
    const auto& e = reply.error();
    if (is_transient(e.kind) || e.kind == Errc::credentials || e.kind == Errc::tls) f.retry = e;
    return f;
  }
  auto progress = read_progress(*reply);
  if (progress && progress->progress < 100.0 && !progress->failed_state()) f.running = std::string(project_id);
  return f;
}

}  // namespace exportd
