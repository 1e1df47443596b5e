#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/transport.hpp"
#include "auth/token_source.hpp"
#include "config/settings.hpp"
#include "engine/api_caller.hpp"
#include "engine/deliveries.hpp"
#include "engine/downloader.hpp"
#include "engine/job_table.hpp"
#include "engine/ledger.hpp"
#include "engine/run_rules.hpp"
#include "engine/step_schedule.hpp"
#include "engine/submit_requests.hpp"
#include "engine/sweeper.hpp"
#include "hooks/hook_keys.hpp"
#include "hooks/hook_registry.hpp"
#include "hooks/receiver.hpp"
#include "jobs/export_job.hpp"
#include "jobs/job_spec.hpp"
#include "jobs/probe.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "schedule/due_queue.hpp"
#include "schedule/engine_time.hpp"
#include "schedule/restart_rule.hpp"
#include "schedule/signal.hpp"

namespace exportd {

// The exporter's optional parts, given when it is made: a part can never
// come after the jobs it should have served (a hook URL a job was sent
// without, a download a job finished without).
struct ExporterParts {
  // Jobs without a webhook_url of their own are sent with
  // public_url/hooks/<token> and polled only as a safety net (SPEC §9).
  const HookKeys* hook_keys = nullptr;
  std::string public_url;
  // With download.dir set: finished exports' videos are fetched through it (SPEC §10).
  VideoFetcher* fetcher = nullptr;
  // Counters for /metrics (SPEC §11); without it they go to a private set nobody reads.
  Metrics* metrics = nullptr;
  // After a restart: which waiting jobs are read at once (SPEC §9; see read_after_restart).
  std::optional<RestartFacts> restart;
  // With deliver.command set: each finished job is handed on through it before it succeeds (SPEC §13).
  Deliverer* deliverer = nullptr;
};

// Drives every job on one executor. A fixed set of workers (one per pooled
// connection) takes whichever job is due next from one due-time queue,
// carries out the step the job machine asks for, and feeds the reply back;
// per job there is only an ExportJob and a queue entry, never a coroutine,
// socket or timer of its own. Facts are written to the ledger before they
// are acted on. What a job does next is JobMachine's to decide, what the run
// does RunRules'; this class only carries their decisions out. Time comes
// from the injected EngineTime, so a unit test drives a whole run in fake time.
class Exporter final : private SweepTarget {
 public:
  using Mode = RunMode;  // batch: run() returns when every job has ended; daemon: only after stop()

  Exporter(boost::asio::any_io_executor ex, const Config& config, Transport& transport, TokenSource& tokens,
           JobLedger& ledger, Logger& log, Mode mode, EngineTime& time, UnitRandom random, ExporterParts parts = {});
  ~Exporter() override = default;

  // Adds the jobs of one batch. `recovered` is empty (all fresh) or has one
  // entry per spec; jobs recovered as ended must not be passed.
  void add_batch(const std::string& batch_id, std::vector<JobSpec> specs, std::vector<RecoveredJob> recovered = {});

  boost::asio::awaitable<RunSummary> run();
  // Stops taking steps; run() returns once the workers have left their
  // current step. Jobs in flight resume from the journal at the next start.
  void stop();
  // New polling, retry and limit settings (SIGHUP); jobs keep their state.
  void reconfigure(const Config& config);

  // A call to the receiver: the job's progress is read now (once, however many hooks come).
  HookAnswer hint(std::string_view token);

  BatchCounts counts() const;
  std::uint64_t requests() const { return calls_.requests(); }
  // Whether calls are held (API unreachable, credentials refused), why, and until when.
  ApiHealth health() const;
  bool calls_held() const { return calls_.rules().held(); }  // every API call held (the breaker is open)

 private:
  // SweepTarget: what a sweep asks of the jobs it covers.
  void confirm(std::uint32_t index, std::optional<TimePoint> unfinished) override;
  void reschedule(std::uint32_t index, bool safety_net) override;

  // Takes the due jobs of one queue: the API's, the downloads' or the deliveries'.
  boost::asio::awaitable<void> worker(StepSchedule::Queue queue);
  std::uint32_t workers(StepSchedule::Queue queue) const;  // how many of them the config asks for
  void spawn_workers();
  // Starts `body` workers until `active` reaches `target`.
  void spawn(const std::function<boost::asio::awaitable<void>()>& body, std::uint32_t& active, std::uint32_t target);
  boost::asio::awaitable<void> execute(std::uint32_t index);
  boost::asio::awaitable<void> submit(std::uint32_t index);
  boost::asio::awaitable<void> probe(std::uint32_t index);
  // A create's lookup, page by page; nothing when the run is stopping.
  boost::asio::awaitable<std::optional<ProbeFinding>> look_up(std::uint32_t index);
  boost::asio::awaitable<void> poll(std::uint32_t index);
  boost::asio::awaitable<void> download(std::uint32_t index);
  boost::asio::awaitable<void> deliver(std::uint32_t index);
  // One API call of a job read as `Reply`; nothing when the run is stopping
  // or the call failed (the failure applied to the job).
  template <class Reply, class Reader>
  boost::asio::awaitable<std::optional<Reply>> ask(std::uint32_t index, const ApiRequest& request, Reader read);
  // One API call of a job, counted on it.
  boost::asio::awaitable<ApiResult<boost::json::object>> call(ExportJob& job, const ApiRequest& request);
  JobEvent failure_event(ExportJob& job, const ApiError& error, TimePoint now);
  boost::asio::awaitable<void> apply(std::uint32_t index, JobEvent event);
  boost::asio::awaitable<void> finish(std::uint32_t index, const JobEvent& event);
  void forget_hook(std::uint32_t index);              // the job ended: its token answers "ended" from now on
  std::string hook_token(std::uint32_t index) const;  // a hooked job's token (computed, never stored)
  void admit();
  bool idle() const { return jobs_.idle(); }
  RunRules::Settings rules_settings() const;

  boost::asio::any_io_executor ex_;
  Config config_;
  JobLedger& ledger_;
  Logger& log_;
  Mode mode_;
  EngineTime& time_;
  UnitRandom random_;
  JobMachine machine_;
  ApiCaller calls_;      // every API call: gate, token, transport, the run's rules
  Metrics own_metrics_;  // counters nobody reads, when no ExporterParts::metrics was given
  Metrics* metrics_ = &own_metrics_;
  JobTable jobs_;
  Sweeper sweeper_;
  // Downloads (SPEC §10): their own queue and workers (download.max_concurrent),
  // outside the API's budget and connection pool.
  Downloader downloader_;
  Deliveries deliveries_;  // SPEC §13: their own queue and workers (deliver.max_concurrent)
  StepSchedule schedule_;  // when each job is stepped next; the hints
  SubmitRequests requests_;
  std::optional<RestartFacts> restart_;  // set when the spool was recovered
  HookRegistry hooks_;
  RunSummary summary_;
  // The workers that carry the run out, and what they wait on.
  struct Crew {
    explicit Crew(boost::asio::any_io_executor ex) : left(ex) {}
    std::uint32_t spawned = 0;      // running, of every kind
    std::uint32_t api = 0;          // API workers (one per pooled connection) not leaving after a reload
    std::uint32_t downloaders = 0;  // download workers (download.max_concurrent), the same
    std::uint32_t deliverers = 0;   // delivery workers (deliver.max_concurrent), the same
    std::uint32_t sweepers = 0;     // the sweeper (one)
    Signal left;                    // a coroutine finished
    bool stopping = false;          // no more steps: run() returns once they have left
  } crew_;
  WallMapping clocks_;
};

}  // namespace exportd
