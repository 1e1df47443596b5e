// exportd run: recovers the spool, takes queue files and dropped files into
// batches, and drives them through the exporter until done (--once) or until
// SIGTERM/SIGINT (the daemon). SIGHUP re-reads the config and queue files.

#include <filesystem>
#include <functional>
#include <iostream>

#include <malloc.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "commands.hpp"
#include "config/config.hpp"
#include "config/reload.hpp"
#include "deliver/deliverer.hpp"
#include "download/download_threads.hpp"
#include "engine/exporter.hpp"
#include "http/client.hpp"
#include "http/paced_transport.hpp"
#include "http/tls.hpp"
#include "intake.hpp"
#include "listeners.hpp"
#include "ops/metrics.hpp"
#include "ops/supervisor.hpp"
#include "preflight.hpp"
#include "results_table.hpp"
#include "spool/batch_store.hpp"
#include "status_report.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr auto shutdown_grace = std::chrono::milliseconds(3000);  // SIGTERM to exit stays well under 5 s

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ",") + k;
  return out;
}

// One run, wired on one io_context: the API client and the engine, and the
// parts with a job each around them (Intake, Listeners, StatusReport). The
// Runner itself starts them in order, answers signals, and ends the run.
class Runner {
 public:
  Runner(const RunOptions& options, Config config, std::string user_key, std::shared_ptr<asio::ssl::context> tls,
         Spool& spool)
      : options_(options),
        config_(std::move(config)),
        tls_(std::move(tls)),
        log_(config_.log),
        io_(1),
        store_(io_.get_executor(), spool, log_),
        http_(io_.get_executor(),
              {config_.api.endpoint, config_.api.request_timeout, config_.limits.max_connections, tls_}, time_),
        paced_(io_.get_executor(), http_, config_.limits.requests_per_second, time_),
        tokens_(io_.get_executor(), paced_, config_.api.endpoint, config_.api.app_id, std::move(user_key),
                config_.api.token_refresh_after, time_),
        spool_(spool),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        listeners_(io_, config_, metrics_, log_, supervise()) {
    http_.count_into(metrics_);
    store_.retain(config_.retention);
  }

  int run() {
    log_.info("starting",
              {{"version", EXPORTD_VERSION}, {"api", config_.api.base_url}, {"state_dir", config_.state_dir}});
    results_offset_ = file_size(spool_.results_path());
    if (config_.download.enabled()) {
      // download.dir is opened here, once: what lies below it is reached
      // through this descriptor, without following links.
      auto root = DownloadRoot::open(config_.download.dir);
      if (!root || ::access(config_.download.dir.c_str(), W_OK) != 0) {
        std::cerr << "exportd: download.dir " << config_.download.dir << " cannot be made or written to"
                  << (root ? "" : ": " + root.error().message) << "\n";
        return exit_temporary;
      }
      FetchOptions o;
      o.timeout = config_.api.request_timeout;
      o.tls = tls_;  // the system store, plus api.ca_file (preflight)
      o.root = std::move(*root);
      o.max_bytes = config_.download.max_bytes;
      hand_on_.fetcher.emplace(std::move(o), time_, 2);  // two download threads
    }
    if (config_.webhook.enabled()) {
      if (const int rc = listeners_.open_hook_keys(); rc != exit_ok) return rc;
    }
    auto recovered = store_.recover(config_.defaults);
    store_.prune(std::chrono::system_clock::now());  // retention: at start-up, then hourly
    // The engine, made with every part it has (ExporterParts), then what
    // watches it and feeds it: none of them exists before its parts do.
    ExporterParts parts;
    parts.hook_keys = listeners_.hook_keys();
    parts.public_url = config_.webhook.public_url;
    parts.fetcher = hand_on_.fetcher ? &*hand_on_.fetcher : nullptr;
    if (config_.deliver.enabled()) {
      hand_on_.delivery.emplace(io_.get_executor(), config_.deliver, log_);
      parts.deliverer = &hand_on_.delivery->deliverer();
    }
    parts.metrics = &metrics_;
    parts.restart = store_.restart_facts();
    exporter_.emplace(io_.get_executor(), config_, paced_, tokens_, store_, log_,
                      options_.once ? RunMode::batch : RunMode::daemon, time_, default_unit_random(), std::move(parts));
    status_.emplace(io_, time_, log_, StatusReport::Sources{*exporter_, store_, spool_}, options_.once,
                    options_.once && ::isatty(STDERR_FILENO) == 1);
    intake_.emplace(io_, options_, config_, store_, *exporter_, spool_, log_, supervise());
    if (config_.webhook.enabled()) {
      if (const int rc = listeners_.start_receiver(*exporter_); rc != exit_ok) return rc;
    }
    if (config_.metrics.enabled()) {
      const MetricsSources sources{*exporter_, tokens_, paced_, store_, time_.wall_now()};
      if (const int rc = listeners_.start_metrics(sources); rc != exit_ok) return rc;
    }
    for (auto& p : recovered) exporter_->add_batch(p.id, std::move(p.specs), std::move(p.states));
    intake_->take_at_start();
    ::malloc_trim(0);  // hand the parsers' scratch memory back before the long run

    auto& notifier = status_->notifier();
    if (!options_.once) {
      intake_->watch();
      asio::co_spawn(io_, status_->publish(), supervised("status writer"));
      asio::co_spawn(io_, prune_hourly(), supervised("retention"));
    }
    notifier.ready();  // the spool is recovered and the watcher is up
    if (notifier.watchdog_interval().count() > 0) asio::co_spawn(io_, status_->feed_watchdog(), supervised("watchdog"));
    wait_for_signal();
    // Supervised like every other task: an engine that throws is logged
    // (task_failed) and stops the daemon with exit 75.
    asio::co_spawn(io_, exporter_->run(), [this, watch = supervised("engine")](std::exception_ptr e, RunSummary s) {
      summary_ = s;
      stop_helpers();
      if (grace_) grace_->cancel();
      watch(e);
    });
    if (status_->drawing()) asio::co_spawn(io_, status_->draw_progress(), supervised("progress line"));
    const auto started = time_.now();
    try {
      io_.run();
    } catch (const std::exception& e) {
      stop_downloads();
      status_->finish_line(std::chrono::duration_cast<Millis>(time_.now() - started));
      std::cerr << "exportd: stopped: " << e.what() << "\n";
      status_->write("stopped", e.what());
      return exit_temporary;
    }
    stop_downloads();
    status_->finish_line(std::chrono::duration_cast<Millis>(time_.now() - started));
    if (!supervisor_.failure().empty()) {
      std::cerr << "exportd: stopped: " << supervisor_.failure() << "\n";
      status_->write("stopped", supervisor_.failure());
      return exit_temporary;  // non-zero: systemd restarts the daemon
    }
    return finish(std::chrono::duration<double>(time_.now() - started).count());
  }

 private:
  static std::uint64_t file_size(const std::string& path) {
    std::error_code ec;
    const auto n = fs::file_size(path, ec);
    return ec ? 0 : n;
  }

  std::function<void(std::exception_ptr)> supervised(std::string task) { return supervisor_.watch(std::move(task)); }
  // For the parts: how they report a spawned task's failure.
  std::function<std::function<void(std::exception_ptr)>(std::string)> supervise() {
    return [this](std::string task) { return supervised(std::move(task)); };
  }

  // A supervised task threw: stop everything, exit non-zero (systemd restarts us).
  void stop_for_failure() {
    stop_helpers();
    if (exporter_) exporter_->stop();
    grace_.emplace(io_, shutdown_grace);
    grace_->async_wait([this](boost::system::error_code) { io_.stop(); });
  }

  void wait_for_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      auto& notifier = status_->notifier();
      if (sig == SIGHUP) {
        notifier.reloading();
        reload();
        notifier.ready();
        wait_for_signal();
        return;
      }
      notifier.stopping();
      log_.warning("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"},
                                {"what", "no new work; jobs in flight resume at the next start"}});
      interrupted_ = true;
      stop_helpers();
      if (hand_on_.delivery) hand_on_.delivery->stop();  // its jobs stay delivering: delivered again at the next start
      exporter_->stop();
      // Workers leave at their next step; one stuck in a slow request is cut off.
      grace_.emplace(io_, shutdown_grace);
      grace_->async_wait([this](boost::system::error_code) { io_.stop(); });
    });
  }

  void reload() {
    auto fresh = load_config_or_report(options_.config);
    if (!fresh) {
      log_.error("reload_failed", {{"config", options_.config}, {"what", "kept the running config"}});
      return;
    }
    auto plan = plan_reload(config_, *fresh);
    if (!plan.restart.empty())
      log_.warning("reload_partial", {{"needs_restart", join(plan.restart)},
                                      {"what", "these keys keep their running values until exportd restarts"}});
    config_ = std::move(plan.next);
    paced_.set_rate(config_.limits.requests_per_second);
    http_.set_max_connections(config_.limits.max_connections);
    exporter_->reconfigure(config_);
    store_.retain(config_.retention);
    // Said in the old log settings, so the line is seen whatever the new ones are.
    log_.info("reloaded", {{"config", options_.config}, {"changed", plan.live.empty() ? "nothing" : join(plan.live)}});
    log_.set_settings(config_.log);
    intake_->queue_files_changed();
  }

  // Retention (SPEC §11): done/, rejected/ and rotated results files, hourly.
  asio::awaitable<void> prune_hourly() {
    prune_timer_.emplace(io_);
    for (;;) {
      prune_timer_->expires_after(std::chrono::hours(1));
      auto [ec] = co_await prune_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || stopping_) co_return;  // cancelled: the run is ending
      store_.prune(std::chrono::system_clock::now());
    }
  }

  // The download threads write into the exporter's files (a download cut
  // off by SIGTERM's grace is still under way there): they are stopped and
  // joined before anything of the run is torn down. NAME.part and the
  // journal hold where each got to.
  void stop_downloads() {
    hand_on_.fetcher.reset();
    if (hand_on_.delivery) hand_on_.delivery->stop();  // no command outlives the daemon
  }

  void stop_helpers() {
    stopping_ = true;
    listeners_.stop();
    if (intake_) intake_->stop();
    if (status_) status_->stop();
    if (prune_timer_) prune_timer_->cancel();
    signals_.cancel();
  }

  // report.path: this run's jobs as the morning report (SPEC §14). A report
  // that cannot be written is said, and changes no exit code: the jobs are done.
  void write_run_report(double seconds) {
    if (config_.report_path.empty()) return;
    ReportScope scope;
    scope.since = std::chrono::system_clock::now() -
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(seconds)) -
                  std::chrono::seconds(1);
    scope.what = "this run of exportd run --once";
    if (auto r = write_report(config_.state_dir, scope, config_.report_path); !r) {
      log_.warning("report_not_written", {{"path", config_.report_path}, {"why", r.error().message}});
      return;
    }
    log_.info("report_written", {{"path", config_.report_path}});
    std::printf("the morning report: %s\n", config_.report_path.c_str());
    std::fflush(stdout);
  }

  int finish(double seconds) {
    status_->write("stopped");
    const auto counts = exporter_->counts();
    if (options_.once) {
      // This run's lines: from where results.jsonl stood at the start, through the files rotated since.
      auto files = store_.rotated_results();
      files.push_back(spool_.results_path());
      print_results_table(files, results_offset_, stdout);
      std::printf(
          "%llu jobs: %llu succeeded, %llu failed, %llu timed out; %llu API calls (%.1f per job) and %llu "
          "token request(s) in %.1f s\n",
          static_cast<unsigned long long>(counts.total), static_cast<unsigned long long>(summary_.succeeded),
          static_cast<unsigned long long>(summary_.failed), static_cast<unsigned long long>(summary_.timed_out),
          static_cast<unsigned long long>(exporter_->requests()),
          counts.total ? static_cast<double>(exporter_->requests()) / static_cast<double>(counts.total) : 0.0,
          static_cast<unsigned long long>(tokens_.requests()), seconds);
      std::fflush(stdout);
      write_run_report(seconds);
    }
    if (summary_.fatal) {
      if (summary_.fatal->kind == Errc::credentials)
        std::cerr << "exportd: the API refused the credentials (api.app_id / user key): " << summary_.fatal->code << " "
                  << summary_.fatal->message << "\n";
      else
        std::cerr << "exportd: " << summary_.fatal->message << "\n";
    }
    log_.info("finished", {{"succeeded", std::to_string(summary_.succeeded)},
                           {"failed", std::to_string(summary_.failed)},
                           {"timed_out", std::to_string(summary_.timed_out)},
                           {"token_requests", std::to_string(tokens_.requests())},
                           {"requests", std::to_string(paced_.sent())}});
    if (interrupted_ && options_.once) std::cerr << "exportd: interrupted; jobs in flight resume at the next run\n";
    return exit_code_for(summary_, intake_->rejected_files(), interrupted_,
                         options_.once ? RunMode::batch : RunMode::daemon);
  }

  const RunOptions& options_;
  Config config_;
  std::shared_ptr<asio::ssl::context> tls_;  // the system store plus api.ca_file, for the API and the videos
  // The one place the real clock is chosen: the engine's, the API client's,
  // the downloads', the progress line's and the rate meter's.
  EngineTime& time_ = real_time();
  Logger log_;
  asio::io_context io_;
  Metrics metrics_;  // before everything that counts into it
  BatchStore store_;
  HttpClient http_;
  PacedTransport paced_;
  TokenSource tokens_;
  // What hands each video on: the downloads (SPEC §10: their own TLS
  // context and two threads) and the delivery commands (SPEC §13).
  struct HandOn {
    std::optional<NetworkVideoFetcher> fetcher;
    std::optional<CommandDelivery> delivery;
  } hand_on_;
  std::optional<Exporter> exporter_;  // made in run(), once its parts are known
  Spool& spool_;
  asio::signal_set signals_;
  std::optional<asio::steady_timer> prune_timer_;
  std::optional<asio::steady_timer> grace_;
  std::uint64_t results_offset_ = 0;
  TaskSupervisor supervisor_{log_, [this](int, const std::string&) { stop_for_failure(); }};
  RunSummary summary_;
  bool interrupted_ = false;
  bool stopping_ = false;
  Listeners listeners_;
  std::optional<StatusReport> status_;  // made with the exporter
  // Last: destroyed first, its reader thread joined before what it reads with.
  std::optional<Intake> intake_;
};

}  // namespace

int run_command(const RunOptions& options) {
  auto config = load_config_or_report(options.config);
  if (!config) return exit_usage;
  // The checks `exportd check` makes, from the same place: a config
  // problem exits 2, a folder that cannot be written 75 (it may be mounted
  // by the next start).
  auto checked = preflight(*config, PreflightFor::run);
  for (const auto& p : checked.config_problems) std::cerr << p << "\n";
  for (const auto& p : checked.folder_problems) std::cerr << p << "\n";
  if (!checked.config_problems.empty()) return exit_usage;
  if (!checked.folder_problems.empty()) return exit_temporary;
  std::optional<Spool> spool;
  std::optional<StateLock> lock;  // one process per state_dir, for the whole run
  try {
    spool.emplace(config->state_dir);
    lock.emplace(config->state_dir);
  } catch (const std::exception& e) {
    std::cerr << "exportd: " << e.what() << "\n";
    return exit_temporary;
  }
  try {
    Runner runner(options, std::move(*config), std::move(checked.user_key), checked.tls, *spool);
    return runner.run();
  } catch (const std::exception& e) {
    std::cerr << "exportd: stopped: " << e.what() << "\n";
    return exit_temporary;
  }
}

}  // namespace exportd
