// exportd run: recovers the spool, takes queue files and dropped files into
// batches, and drives them through the exporter until done (--once) or until
// SIGTERM/SIGINT (the daemon). SIGHUP re-reads the config and queue files.

#include <filesystem>
#include <functional>
#include <iostream>
#include <set>

#include <malloc.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "commands.hpp"
#include "config/config.hpp"
#include "download/download_threads.hpp"
#include "engine/exporter.hpp"
#include "engine/paced_transport.hpp"
#include "engine/reload.hpp"
#include "hooks/hook_keys.hpp"
#include "hooks/receiver.hpp"
#include "http/client.hpp"
#include "http/listener.hpp"
#include "http/tls.hpp"
#include "ops/metrics.hpp"
#include "ops/off_loop.hpp"
#include "ops/service_notifier.hpp"
#include "ops/supervisor.hpp"
#include "ops/time_format.hpp"
#include "results_table.hpp"
#include "spool/batch_store.hpp"
#include "spool/drop_watcher.hpp"
#include "spool/status.hpp"

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

// Everything one run wires together, on one io_context.
class Runner {
 public:
  Runner(const RunOptions& options, Config config, std::string user_key, std::shared_ptr<asio::ssl::context> tls,
         Spool& spool)
      : options_(options),
        config_(std::move(config)),
        log_(config_.log),
        line_(stderr),
        draw_(options.once && ::isatty(STDERR_FILENO) == 1),
        io_(1),
        store_(io_.get_executor(), spool, log_),
        http_(io_.get_executor(),
              {config_.api.endpoint, config_.api.request_timeout, config_.limits.max_connections, tls}, time_),
        paced_(io_.get_executor(), http_, config_.limits.requests_per_second, time_),
        tokens_(io_.get_executor(), paced_, config_.api.endpoint, config_.api.app_id, std::move(user_key),
                config_.api.token_refresh_after, time_),
        exporter_(io_.get_executor(), config_, paced_, tokens_, store_, log_,
                  options.once ? RunMode::batch : RunMode::daemon, time_, default_unit_random()),
        spool_(spool),
        signals_(io_, SIGINT, SIGTERM, SIGHUP) {
    if (draw_) log_.attach(&line_);
    http_.count_into(metrics_);
    exporter_.use_metrics(metrics_);
    store_.retain(config_.retention);
  }

  int run() {
    log_.info("starting", {{"version", EXPORTD_VERSION},
                           {"mode", options_.once ? "once" : "daemon"},
                           {"api", config_.api.base_url},
                           {"state_dir", config_.state_dir}});
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
      o.tls = make_client_tls_context(config_.api.ca_file);  // the system store, plus api.ca_file
      o.root = std::move(*root);
      o.max_bytes = config_.download.max_bytes;
      fetcher_.emplace(std::move(o), time_, 2);  // two download threads
      exporter_.use_downloads(*fetcher_);
    }
    if (config_.webhook.enabled()) {
      if (const int rc = start_receiver(); rc != exit_ok) return rc;
    }
    if (config_.metrics.enabled()) {
      if (const int rc = start_metrics(); rc != exit_ok) return rc;
    }
    auto recovered = store_.recover(config_.defaults);
    store_.prune(std::chrono::system_clock::now());  // retention: at start-up, then hourly
    exporter_.after_restart(store_.restart_facts());
    for (auto& p : recovered) exporter_.add_batch(p.id, std::move(p.specs), std::move(p.states));
    take_queue_files();
    for (const auto& name : spool_.waiting()) take_drop_file(name);
    ::malloc_trim(0);  // hand the parsers' scratch memory back before the long run

    if (!options_.once) {
      watcher_.emplace(io_.get_executor(), spool_.incoming());
      asio::co_spawn(io_, watch_drops(), supervised("drop watcher"));
      asio::co_spawn(io_, publish_status(), supervised("status writer"));
      asio::co_spawn(io_, prune_hourly(), supervised("retention"));
      // Files that arrived between the scan above and the watch.
      for (const auto& name : spool_.waiting()) take_drop_file(name);
    }
    notifier_.ready();  // the spool is recovered and the watcher is up
    if (notifier_.watchdog_interval().count() > 0) asio::co_spawn(io_, feed_watchdog(), supervised("watchdog"));
    wait_for_signal();
    // Supervised like every other task: an engine that throws is logged
    // (task_failed) and stops the daemon with exit 75.
    asio::co_spawn(io_, exporter_.run(), [this, watch = supervised("engine")](std::exception_ptr e, RunSummary s) {
      summary_ = s;
      finished_ = true;
      stop_helpers();
      if (grace_) grace_->cancel();
      watch(e);
    });
    if (draw_) asio::co_spawn(io_, draw_progress(), supervised("progress line"));
    const auto started = time_.now();
    try {
      io_.run();
    } catch (const std::exception& e) {
      stop_downloads();
      line_.finish();
      std::cerr << "exportd: stopped: " << e.what() << "\n";
      write_status("stopped", e.what());
      return exit_temporary;
    }
    stop_downloads();
    if (draw_) {
      line_.show(format_progress(exporter_.counts(), std::chrono::duration_cast<Millis>(time_.now() - started)));
      line_.finish();
      log_.attach(nullptr);
    }
    if (!supervisor_.failure().empty()) {
      std::cerr << "exportd: stopped: " << supervisor_.failure() << "\n";
      write_status("stopped", supervisor_.failure());
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

  // The queue files of the config and the command line, at start-up (a
  // SIGHUP takes the changed ones: take_changed_queue_files).
  void take_queue_files() {
    for (const auto& f : queue_files()) {
      auto queued = read_queue_file(f, config_.defaults);
      seen_queue_content_.insert(f + "\n" + queued.content);
      accept_queue_file(std::move(queued), options_.fresh);
    }
  }

  // The queue files of the config, then those of the command line.
  std::vector<std::string> queue_files() const {
    std::vector<std::string> files = config_.queue_files;
    files.insert(files.end(), options_.queues.begin(), options_.queues.end());
    return files;
  }

  // A queue file read (read_queue_file): its jobs to the exporter, or its problems to stderr.
  void accept_queue_file(QueueRead queued, bool fresh) {
    auto taken = store_.accept_queue_file(std::move(queued), fresh);
    if (!taken) {
      std::cerr << taken.error().message << "\n";  // FILE:LINE:COL lines, as `exportd check` prints them
      rejected_files_ = true;
      return;
    }
    if (auto& p = *taken) exporter_.add_batch(p->id, std::move(p->specs), std::move(p->states));
  }

  std::function<void(std::exception_ptr)> supervised(std::string task) { return supervisor_.watch(std::move(task)); }

  // A supervised task threw: stop everything, exit non-zero (systemd restarts us).
  void stop_for_failure() {
    stop_helpers();
    exporter_.stop();
    grace_.emplace(io_, shutdown_grace);
    grace_->async_wait([this](boost::system::error_code) { io_.stop(); });
  }

  // One dropped file. Whatever it holds or is, the watcher goes on: a file
  // that makes the claim itself fail is moved to rejected/ with the reason.
  void take_drop_file(const std::string& name) {
    if (stopping_) return;
    try {
      if (auto p = store_.take_drop_file(name, config_.defaults)) exporter_.add_batch(p->id, std::move(p->specs));
    } catch (const std::exception& e) {
      drop_failed(name, e);
    }
  }

  // Taking a dropped file in threw: the file is set aside with the reason,
  // unless the spool itself is failing (rethrown: stop rather than lose state).
  void drop_failed(const std::string& name, const std::exception& e) {
    const auto* sys = dynamic_cast<const std::system_error*>(&e);
    if (sys != nullptr && is_storage_failure(sys->code())) throw;
    log_.error("drop_failed", {{"file", name}, {"error", e.what()}});
    set_aside_drop(name, e.what());
  }

  void set_aside_drop(const std::string& name, const std::string& why) {
    std::error_code ec;
    if (fs::symlink_status(spool_.incoming() + "/" + name, ec).type() == fs::file_type::not_found) return;
    try {
      spool_.reject(name, spool_.incoming() + "/" + name + ":1:1: cannot be taken: " + why + "\n");
    } catch (const std::exception& e) {
      log_.error("reject_failed", {{"file", name}, {"error", e.what()}});
    }
  }

  asio::awaitable<void> watch_drops() {
    while (!stopping_) {
      auto names = co_await watcher_->next();
      for (const auto& n : names) co_await take_drop_file_off_loop(n);
    }
  }

  // A dropped file while the daemon runs: claimed and journaled on the
  // loop, read (the YAML, and each distinct scenes file it names, once) on
  // the intake thread, so that polls, hooks and watchdog pings go on.
  asio::awaitable<void> take_drop_file_off_loop(const std::string& name) {
    if (stopping_) co_return;
    try {
      auto claimed = store_.claim_drop(name);
      if (!claimed) co_return;
      auto read = [this, drop = *claimed, defaults = config_.defaults] { return store_.read_drop(drop, defaults); };
      auto content = co_await off_loop(intake_, std::move(read));
      if (stopping_) co_return;  // claimed, not journaled: taken in again at the next start
      if (auto p = store_.accept_drop(*claimed, std::move(content))) exporter_.add_batch(p->id, std::move(p->specs));
    } catch (const std::exception& e) {
      drop_failed(name, e);
    }
  }

  void wait_for_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        notifier_.reloading();
        reload();
        notifier_.ready();
        wait_for_signal();
        return;
      }
      notifier_.stopping();
      log_.warning("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"},
                                {"what", "no new work; jobs in flight resume at the next start"}});
      interrupted_ = true;
      stop_helpers();
      exporter_.stop();
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
    exporter_.reconfigure(config_);
    store_.retain(config_.retention);
    // Said in the old log settings, so the line is seen whatever the new ones are.
    log_.info("reloaded", {{"config", options_.config}, {"changed", plan.live.empty() ? "nothing" : join(plan.live)}});
    log_.set_settings(config_.log);
    // Read on the intake thread: a large queue file or scenes file holds up no poll.
    if (!queue_intake_running_) {
      queue_intake_running_ = true;
      asio::co_spawn(io_, take_changed_queue_files(), supervised("queue file intake"));
    } else {
      queue_intake_again_ = true;  // a SIGHUP while one is read: once more after it
    }
  }

  // After a SIGHUP: the queue files whose content this process has not
  // taken yet, each read off the loop and taken in on it.
  asio::awaitable<void> take_changed_queue_files() {
    do {
      queue_intake_again_ = false;
      for (const auto& f : queue_files()) {
        auto read = [f, defaults = config_.defaults] { return read_queue_file(f, defaults); };
        auto queued = co_await off_loop(intake_, std::move(read));
        if (stopping_) break;
        if (!seen_queue_content_.insert(f + "\n" + queued.content).second) continue;
        accept_queue_file(std::move(queued), false);
      }
    } while (queue_intake_again_ && !stopping_);
    queue_intake_running_ = false;
  }

  // The webhook receiver (SPEC §9), before any job is added: every job
  // submitted from now on is told its hook URL.
  int start_receiver() {
    auto keys = HookKeys::open(config_.state_dir);
    if (!keys) {
      std::cerr << "exportd: " << keys.error().message << "\n";
      return exit_temporary;
    }
    hook_keys_.emplace(std::move(*keys));
    exporter_.use_hooks(*hook_keys_, config_.webhook.public_url);
    const auto where = parse_listen_address(config_.webhook.listen);  // checked when the config was read
    auto bound = HttpListener::bind(
        io_.get_executor(), "webhook.listen", where->host, where->port,
        [this](const Incoming& request) {
          auto reply = answer_hook(request, [this](std::string_view token) { return exporter_.hint(token); });
          metrics_.hook(reply.outcome);
          return std::move(reply.answer);
        },
        log_);
    if (!bound) {
      std::cerr << "exportd: " << bound.error().message << "\n";
      return exit_temporary;  // e.g. the port is taken: a restart may find it free
    }
    receiver_ = std::move(*bound);
    log_.info("webhook_listening", {{"listen", config_.webhook.listen},
                                    {"port", std::to_string(receiver_->port())},
                                    {"public_url", config_.webhook.public_url}});
    asio::co_spawn(io_, receiver_->run(), supervised("webhook receiver"));
    return exit_ok;
  }

  // /metrics (SPEC §11) on its own listener, never the webhook's.
  int start_metrics() {
    const auto where = parse_listen_address(config_.metrics.listen);  // checked when the config was read
    auto bound = HttpListener::bind(
        io_.get_executor(), "metrics.listen", where->host, where->port,
        [this](const Incoming& request) {
          namespace http = boost::beast::http;
          const auto path = request.target.substr(0, request.target.find('?'));
          if (path != metrics_path)
            return Answer{http::status::not_found, "text/plain", "only /metrics is served here\n"};
          if (request.method != http::verb::get && request.method != http::verb::head)
            return Answer{http::status::method_not_allowed, "text/plain", "GET /metrics\n"};
          return Answer{http::status::ok, "text/plain; version=0.0.4; charset=utf-8", metrics_.render(gauges())};
        },
        log_, ListenerLimits{4096, std::chrono::seconds(10), 32});
    if (!bound) {
      std::cerr << "exportd: " << bound.error().message << "\n";
      return exit_temporary;
    }
    metrics_listener_ = std::move(*bound);
    log_.info("metrics_listening",
              {{"listen", config_.metrics.listen}, {"port", std::to_string(metrics_listener_->port())}});
    asio::co_spawn(io_, metrics_listener_->run(), supervised("metrics listener"));
    return exit_ok;
  }

  MetricsGauges gauges() const {
    MetricsGauges g;
    g.jobs = exporter_.counts();
    g.token_renewals = tokens_.issued();
    g.token_failures = tokens_.requests() - tokens_.issued();
    g.calls_held = exporter_.calls_held();
    g.budget = config_.limits.requests_per_second;
    g.request_rate = paced_.rate();
    g.results_rotations = store_.results_rotations();
    g.started_at = std::chrono::duration_cast<std::chrono::seconds>(started_.time_since_epoch()).count();
    return g;
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
  void stop_downloads() { fetcher_.reset(); }

  void stop_helpers() {
    stopping_ = true;
    if (receiver_) receiver_->stop();
    if (metrics_listener_) metrics_listener_->stop();
    if (prune_timer_) prune_timer_->cancel();
    signals_.cancel();
    if (watcher_) watcher_->close();
    if (status_timer_) status_timer_->cancel();
    if (watchdog_timer_) watchdog_timer_->cancel();
  }

  // Pinged from the event loop itself: if the loop hangs, the pings stop and
  // systemd restarts the service.
  asio::awaitable<void> feed_watchdog() {
    watchdog_timer_.emplace(io_);
    while (!stopping_) {
      notifier_.watchdog();
      watchdog_timer_->expires_after(notifier_.watchdog_interval());
      co_await watchdog_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void write_status(const std::string& state, const std::string& error = {}) {
    if (options_.once) return;
    const auto c = exporter_.counts();
    const auto health = exporter_.health();
    boost::json::object o{
        {"pid", static_cast<std::int64_t>(::getpid())},
        {"state", state},
        {"started_at", started_at_},
        {"updated_at", rfc3339(std::chrono::system_clock::now())},
        {"jobs",
         boost::json::object{
             {"accepted", c.total}, {"ended", c.done}, {"failed", c.failed}, {"in_flight", c.in_flight}}},
        {"open_batches", store_.open_batches()},
        {"downloads", boost::json::object{{"in_progress", c.downloading},
                                          {"paused_disk_full", c.downloads_paused},
                                          {"bytes", c.download_bytes},
                                          {"bytes_per_second", static_cast<std::uint64_t>(download_rate())}}},
        {"api", health.text()},
        {"last_error", !error.empty() ? error : health.held ? health.why : store_.last_error()}};
    const auto written = write_status_file(spool_.status_path(), o);
    if (!written && !status_failing_)
      log_.warning("status_unwritable", {{"error", written.error().message},
                                         {"what", "exportd status shows stale counts until it can write again"}});
    if (written && status_failing_) log_.info("status_written", {{"path", spool_.status_path()}});
    status_failing_ = !written;
    const auto queued = c.total - c.done - c.in_flight;
    std::string line = std::to_string(c.in_flight) + " active, " + std::to_string(queued) + " queued, " +
                       std::to_string(c.failed) + " failed since start";
    if (c.downloading > 0) line += "; " + std::to_string(c.downloading) + " downloading";
    if (c.downloads_paused > 0)
      line += "; " + std::to_string(c.downloads_paused) + " downloads paused: download.dir is full";
    if (health.held) line += "; " + health.why;
    notifier_.status(line);
  }

  asio::awaitable<void> publish_status() {
    status_timer_.emplace(io_);
    while (!stopping_) {
      write_status("running");
      status_timer_->expires_after(std::chrono::seconds(2));
      co_await status_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // Video bytes per second over the last few seconds (the progress line and status.json).
  double download_rate() { return rate_.sample(time_.now(), exporter_.counts().download_bytes); }

  asio::awaitable<void> draw_progress() {
    asio::steady_timer timer(io_);
    const auto start = time_.now();
    while (!finished_ && !interrupted_) {
      line_.show(format_progress(exporter_.counts(), std::chrono::duration_cast<Millis>(time_.now() - start),
                                 download_rate()));
      timer.expires_after(std::chrono::milliseconds(250));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  int finish(double seconds) {
    write_status("stopped");
    const auto counts = exporter_.counts();
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
          static_cast<unsigned long long>(exporter_.requests()),
          counts.total ? static_cast<double>(exporter_.requests()) / static_cast<double>(counts.total) : 0.0,
          static_cast<unsigned long long>(tokens_.requests()), seconds);
      std::fflush(stdout);
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
    return exit_code_for(summary_, rejected_files_, interrupted_, options_.once ? RunMode::batch : RunMode::daemon);
  }

  const RunOptions& options_;
  Config config_;
  EngineTime& time_ = real_time();  // the engine's, the progress line's and the rate meter's clock
  Logger log_;
  ProgressLine line_;
  bool draw_;
  asio::io_context io_;
  Metrics metrics_;  // before everything that counts into it
  BatchStore store_;
  HttpClient http_;
  PacedTransport paced_;
  TokenSource tokens_;
  // Downloads (SPEC §10): their own TLS context and two threads (socket, writing, hashing).
  std::optional<NetworkVideoFetcher> fetcher_;
  Exporter exporter_;
  Spool& spool_;
  asio::signal_set signals_;
  std::optional<DropWatcher> watcher_;
  std::optional<HookKeys> hook_keys_;
  std::unique_ptr<HttpListener> receiver_;
  std::unique_ptr<HttpListener> metrics_listener_;
  std::optional<asio::steady_timer> prune_timer_;
  std::optional<asio::steady_timer> grace_;
  std::optional<asio::steady_timer> status_timer_;
  std::optional<asio::steady_timer> watchdog_timer_;
  ServiceNotifier notifier_;
  std::set<std::string> seen_queue_content_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  std::string started_at_ = rfc3339(started_);
  std::uint64_t results_offset_ = 0;
  TaskSupervisor supervisor_{log_, [this](int, const std::string&) { stop_for_failure(); }};
  RunSummary summary_;
  bool finished_ = false;
  bool interrupted_ = false;
  bool stopping_ = false;
  bool rejected_files_ = false;
  bool queue_intake_running_ = false;  // take_changed_queue_files() is under way
  bool queue_intake_again_ = false;    // ... and a SIGHUP came meanwhile
  bool status_failing_ = false;  // status.json could not be written last time (said once)
  RateMeter rate_;               // download_rate()
  // Reads dropped files off the loop (take_drop_file_off_loop). Last: joined first, before what it reads with.
  asio::thread_pool intake_{1};
};

}  // namespace

int run_command(const RunOptions& options) {
  auto config = load_config_or_report(options.config);
  if (!config) return exit_usage;
  auto user_key = read_user_key(config->api);
  if (!user_key) {
    std::cerr << "exportd: " << user_key.error().message << "\n";
    return exit_usage;
  }
  std::shared_ptr<asio::ssl::context> tls;
  try {
    if (config->api.endpoint.tls) tls = make_client_tls_context(config->api.ca_file);
  } catch (const std::exception& e) {
    std::cerr << "exportd: " << e.what() << "\n";
    return exit_usage;
  }
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
    Runner runner(options, std::move(*config), std::move(*user_key), tls, *spool);
    return runner.run();
  } catch (const std::exception& e) {
    std::cerr << "exportd: stopped: " << e.what() << "\n";
    return exit_temporary;
  }
}

}  // namespace exportd
