#pragma once

// The rules of a whole run as pure code, beside JobMachine (the rules of
// one job): given how a call went and the time, decide what the run does —
// deliver the outcome to the job, renew the token and replay once, hold
// every call until a probe may go, or stop the run with an exit code. No
// sockets, timers or logs in here; Exporter carries the decisions out.

#include <cstdint>
#include <optional>
#include <string>

#include "api/wire.hpp"
#include "schedule/backoff.hpp"
#include "schedule/circuit_breaker.hpp"
#include "schedule/clock.hpp"

namespace exportd {

// Whether the run holds its API calls (the breaker is open), as the status
// file, the progress line and the service status show it.
struct ApiHealth {
  bool held = false;
  std::string why;  // held: why, and when the next try is
  std::string text() const { return held ? why : "ok"; }
};

enum class RunMode : std::uint8_t {
  batch,   // run --once: ends when every job has ended, or gives up
  daemon,  // runs until stopped; waits out anything the operator can fix
};

// Exit codes of SPEC §2.
enum ExitCode : int {
  exit_ok = 0,            // success (with --once: every job succeeded)
  exit_jobs_failed = 1,   // with --once: a job failed or timed out
  exit_usage = 2,         // usage, or an invalid config or job file
  exit_credentials = 3,   // the API refused the credentials
  exit_temporary = 75,    // EX_TEMPFAIL: unreachable API, unwritable state_dir, interrupted
};

// How a run ended.
struct RunSummary {
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t unreachable = 0;  // failed only because transient errors ran out
  std::optional<JobError> fatal;  // credentials refused, TLS verification failed, API given up on
  std::uint64_t requests = 0;     // API calls sent (the token's aside)
};

// The exit code a finished run reports.
ExitCode exit_code_for(const RunSummary& s, bool rejected_files, bool interrupted, RunMode mode);

// Credentials refused or TLS verification failed: no job is to blame.
bool is_fatal(Errc kind);

class RunRules {
 public:
  struct Settings {
    RunMode mode = RunMode::daemon;
    Backoff probe_gaps{Millis(1000), Millis(300'000)};  // between probes of an unreachable API
    std::uint32_t trip_after = 5;     // failures in a row that open the breaker
    std::uint32_t give_up_after = 8;  // failed probes after which a batch run stops (exit 75)
  };
  explicit RunRules(Settings s) : s_(s), breaker_(s.probe_gaps, s.trip_after) {}

  // May a call go now?
  struct Gate {
    enum class Kind : std::uint8_t {
      go,       // send it
      wait,     // calls are held (API unreachable, credentials refused) until `until`
      stopped,  // the run is stopping: send nothing
    } kind;
    TimePoint until{};
  };
  Gate gate(TimePoint now);

  // What happened to the run because of one call's outcome (`error` null: it went through).
  struct Decision {
    enum class Next : std::uint8_t {
      deliver,           // hand the outcome to the job
      renew_and_replay,  // drop this token, get a fresh one (single flight), send the call once more
    } next = Next::deliver;
    bool api_down = false;      // the failure is the API's, not the job's: not held against it
    bool held_now = false;      // calls are held from now on (log "api_held")
    bool back_now = false;      // calls flow again after being held (log "api_back")
    Millis held_for{0};         // with back_now: how long they were held
    std::optional<JobError> stop;  // the run stops with this (batch mode gave up on the API)
  };
  // `replayed`: this call is not to be replayed again (CallSteps::max_replays).
  // `trips_breaker`: false for a sweep's list call, whose faults alone do not
  // hold every call (while sweeps run it may be the only call made; a list
  // that fails while the jobs' own reads would work must not stop the run).
  // A failed probe counts whatever made it.
  Decision on_call(const ApiError* error, bool replayed, TimePoint now, bool trips_breaker = true);

  // A job's event carries `error`: does the run stop on it? (Batch mode, a
  // fatal error: the job stays as the journal has it.)
  bool stops_run(Errc kind) const { return s_.mode == RunMode::batch && is_fatal(kind); }

  void stop(std::optional<JobError> why = std::nullopt);
  bool stopping() const { return stopping_; }
  const std::optional<JobError>& fatal() const { return fatal_; }

  // Whether calls are held, and why and until when.
  ApiHealth health(TimePoint now) const;
  bool held() const { return breaker_.is_open(); }
  TimePoint next_probe() const { return breaker_.next_probe(); }
  std::uint32_t failed_probes() const { return breaker_.failed_probes(); }
  const std::string& held_because() const { return held_because_; }

  // New numbers after a reload; the breaker's state is kept.
  void reconfigure(Settings s);

 private:
  Settings s_;
  CircuitBreaker breaker_;
  std::string held_because_;
  bool stopping_ = false;
  std::optional<JobError> fatal_;
};

}  // namespace exportd
