#include "ops/supervisor.hpp"

namespace exportd {

std::function<void(std::exception_ptr)> TaskSupervisor::watch(std::string task) {
  return [this, task = std::move(task)](std::exception_ptr e) {
    if (!e) return;
    std::string why;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      why = task + " failed: " + ex.what();
    } catch (...) {
      why = task + " failed";
    }
    log_.error("task_failed", {{"task", task}, {"error", why}, {"what", "exportd stops; jobs resume at the next start"}});
    if (!failure_.empty()) return;  // already stopping for an earlier one
    failure_ = why;
    stop_(75, why);  // EX_TEMPFAIL
  };
}

}  // namespace exportd
