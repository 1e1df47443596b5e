#pragma once

#include <chrono>
#include <optional>

namespace exportd {

// What a restarted daemon knows about the time it was down and about how
// long exports take, from its own journal (SPEC §9).
struct RestartFacts {
  using SysTime = std::chrono::system_clock::time_point;
  SysTime last_alive{};  // the journal's last write: the daemon was up at least until then
  // The shortest and longest export (submit to recorded finish) among the
  // jobs the journal holds as succeeded; none when it holds none.
  struct Span {
    std::chrono::milliseconds shortest{0};
    std::chrono::milliseconds longest{0};
  };
  std::optional<Span> seen;

  // Takes in one succeeded export.
  void saw_export(std::chrono::milliseconds took);
};

// Whether a job that waits for its webhook may have had its hook while the
// daemon was down: the span its finish is predicted in (its submit plus half
// the shortest to twice the longest export seen) reaches into
// [last_alive, now]. With no export seen there is no prediction: false. A job
// predicted to finish later keeps waiting for its hook; one predicted to have
// finished while the daemon was still up (its hook was lost) is left to the
// safety poll.
bool read_after_restart(RestartFacts::SysTime submitted_at, RestartFacts::SysTime now, const RestartFacts& facts);

// When a restarted daemon first reads a job that waits for its webhook: at
// once (`now`) if its hook may have come while it was down
// (read_after_restart), or if the job has gone unread for `safety_poll` by
// now; otherwise at the safety read it would have had had the daemon never
// stopped. The reads are not journaled: a hooked job's safety reads fall
// every `safety_poll` from its submit, so the last one before the crash is
// the last such time before `last_alive`.
RestartFacts::SysTime first_read_after_restart(RestartFacts::SysTime submitted_at, RestartFacts::SysTime now,
                                               const RestartFacts& facts, std::chrono::milliseconds safety_poll);

}  // namespace exportd
