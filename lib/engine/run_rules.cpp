#include "engine/run_rules.hpp"

#include "time/duration.hpp"

namespace exportd {

bool is_fatal(Errc kind) { return kind == Errc::credentials || kind == Errc::tls; }

ExitCode exit_code_for(const RunSummary& s, bool rejected_files, bool interrupted, RunMode mode) {
  if (interrupted) return mode == RunMode::daemon ? exit_ok : exit_temporary;  // SIGTERM is the daemon's normal way out
  if (s.fatal) return s.fatal->kind == Errc::credentials ? exit_credentials : exit_temporary;
  const auto ended_badly = s.failed + s.timed_out;
  if (ended_badly > 0 && s.succeeded == 0 && s.unreachable == ended_badly) return exit_temporary;
  if (rejected_files) return exit_usage;
  return ended_badly > 0 ? exit_jobs_failed : exit_ok;
}

RunRules::Gate RunRules::gate(TimePoint now) {
  if (stopping_) return {Gate::Kind::stopped, now};
  const auto a = breaker_.admit(now);
  if (a.verdict == CircuitBreaker::Verdict::wait) return {Gate::Kind::wait, a.until};
  return {Gate::Kind::go, now};
}

RunRules::Decision RunRules::on_call(const ApiError* error, bool replayed, TimePoint now, bool trips_breaker) {
  Decision d;
  const bool was_open = breaker_.is_open();
  // What says the API itself is in trouble; a 429 is throttling, handled by the pacer.
  const bool api_fault = error != nullptr && (error->kind == Errc::transport || error->kind == Errc::malformed ||
                                              (error->kind == Errc::overloaded && error->http_status != 429));
  const bool refused = error != nullptr && is_fatal(error->kind);
  if (refused && s_.mode == RunMode::daemon) {
    // The daemon waits for someone to fix the key or the certificate.
    breaker_.hold(now);
    held_because_ =
        error->kind == Errc::credentials ? "the API refused the credentials (" + error->message + ")" : error->message;
  } else if (api_fault) {
    if (trips_breaker || was_open) breaker_.on_failure(now);
    if (!was_open && breaker_.is_open()) held_because_ = "API unreachable (" + error->message + ")";
  } else if (!refused) {
    breaker_.on_success();
    if (was_open) {
      d.back_now = true;
      d.held_for = std::chrono::duration_cast<Millis>(now - breaker_.open_since());
    }
  }
  if (breaker_.is_open()) {
    if (api_fault || refused) d.api_down = s_.mode == RunMode::daemon || !refused;
    d.held_now = !was_open || api_fault || refused;
    if (s_.mode == RunMode::batch && breaker_.failed_probes() >= s_.give_up_after) {
      d.stop = JobError{Errc::transport, "unreachable",
                        held_because_ + ": " + std::to_string(breaker_.failed_probes()) +
                            " probes failed; unfinished jobs resume at the next run"};
      stop(d.stop);
    }
  }
  if (error != nullptr && error->kind == Errc::unauthorized && !replayed && !d.stop)
    d.next = Decision::Next::renew_and_replay;
  return d;
}

void RunRules::stop(std::optional<JobError> why) {
  stopping_ = true;
  if (why && !fatal_) fatal_ = std::move(why);
}

ApiHealth RunRules::health(TimePoint now) const {
  if (!breaker_.is_open()) return {};
  const auto in = std::chrono::duration_cast<Millis>(breaker_.next_probe() - now);
  return {true, held_because_ + "; next try in " + format_eta(std::max(in, Millis(0)))};
}

void RunRules::reconfigure(Settings s) {
  s_ = s;
  // The breaker keeps whether it is open; new gaps apply from its next probe.
  breaker_.set_backoff(s.probe_gaps);
}

}  // namespace exportd
