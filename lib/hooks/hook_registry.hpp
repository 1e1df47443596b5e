#pragma once

// Which job a webhook call names (SPEC §9), as plain state: the tokens of
// the jobs awaiting their hook, the tokens of the last many that ended (a
// late or repeated hook for one is answered 200 and ignored, not 404), and
// the moment each job was last hinted unfinished (its completion lag counts
// from there). No I/O and no clock: the exporter tells it what happened.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "hooks/hook_keys.hpp"
#include "hooks/receiver.hpp"
#include "schedule/clock.hpp"

namespace exportd {

class HookRegistry {
 public:
  static constexpr std::size_t default_max_ended = 100'000;
  explicit HookRegistry(std::size_t max_ended = default_max_ended) : max_ended_(max_ended) {}

  // Jobs added from now on are sent with public_url/hooks/<token>, their
  // tokens made with `keys` (which must outlive this).
  void use(const HookKeys& keys, const std::string& public_url);
  bool on() const { return keys_ != nullptr; }
  // A job's token (computed, never stored beyond the maps below) and the URL the API is to call.
  std::string token(std::string_view batch, std::string_view job_key) const;
  std::string url(std::string_view token) const { return url_ + std::string(token); }

  // A hooked job is accepted (or recovered): calls with its token name it.
  void await(std::string token, std::uint32_t job) { awaiting_[std::move(token)] = job; }
  // What a call's token names: a job awaiting its hook (`job` set), one
  // that has ended, or nothing of ours. A token of the wrong form is unknown
  // without a lookup.
  struct Lookup {
    HookAnswer answer = HookAnswer::unknown;
    std::uint32_t job = 0;
  };
  Lookup find(std::string_view token) const;
  // The job has ended: its token answers "ended" from now on, for the last
  // `max_ended` jobs (older ones fall back to "unknown").
  void ended(std::string token);
  std::size_t awaiting() const { return awaiting_.size(); }

  // A hook (or a sweep's "exported") says the job may be done; `at`: the
  // latest sight of it unfinished. The first such moment is kept until the
  // job's read sees it done or it ends (forget_hint).
  void hinted(std::uint32_t job, TimePoint at) { hinted_at_.try_emplace(job, at); }
  std::optional<TimePoint> hint(std::uint32_t job) const;
  void forget_hint(std::uint32_t job) { hinted_at_.erase(job); }

 private:
  std::size_t max_ended_;
  const HookKeys* keys_ = nullptr;
  std::string url_;                                          // public_url + "/hooks/"
  std::unordered_map<std::string, std::uint32_t> awaiting_;  // token -> job, for jobs not ended
  std::unordered_set<std::string> ended_;                    // tokens of the last jobs that ended
  std::deque<std::string> ended_order_;                      // ... oldest first
  std::unordered_map<std::uint32_t, TimePoint> hinted_at_;   // job -> its first hint not yet seen done
};

}  // namespace exportd
