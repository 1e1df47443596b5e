#include "engine/recovery.hpp"

namespace exportd {

Comeback comeback(const RecoveredJob& r, bool downloads, bool hooked, const std::optional<RestartFacts>& restart,
                  RestartFacts::SysTime now, std::chrono::milliseconds safety_poll) {
  if (r.state == Recovery::in_doubt) return {"recovered_in_doubt", JobState::in_doubt, {}};
  if (!export_accepted(r.state)) return {};
  // Delivered again (at least once: its command was started and not seen to
  // succeed); never exported or downloaded again.
  if (r.state == Recovery::delivering) return {"recovered_delivering", JobState::delivering, {}};
  // Polling resumes (or the download); no second export.
  if (r.state == Recovery::downloading && downloads) return {"recovered_downloading", JobState::downloading, {}};
  if (hooked && restart) {
    // Read at once only if its hook may have come while the daemon was
    // down, or its safety read is due; otherwise it keeps waiting for it.
    const auto first = first_read_after_restart(r.submitted_at(), now, *restart, safety_poll);
    if (first > now) return {"recovered_awaiting_hook", JobState::polling, first};
  }
  return {"recovered_submitted", JobState::polling, {}};
}

}  // namespace exportd
