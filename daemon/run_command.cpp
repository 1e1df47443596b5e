#include <filesystem>
#include <iostream>

#include <malloc.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "batch_files.hpp"
#include "commands.hpp"
#include "engine/exporter.hpp"
#include "engine/paced_transport.hpp"
#include "http/client.hpp"
#include "http/tls.hpp"
#include "results_table.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

asio::awaitable<void> draw_progress(Exporter& exporter, ProgressLine& line, const bool& done) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto start = Clock::now();
  while (!done) {
    line.show(format_progress(exporter.counts(), std::chrono::duration_cast<Millis>(Clock::now() - start)));
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

int exit_code_for(const RunSummary& s, const LoadedBatch& batch) {
  if (s.fatal) return s.fatal->kind == FailureKind::credentials ? exit_credentials : exit_temporary;
  const auto ended_badly = s.failed + s.timed_out;
  if (ended_badly > 0 && s.succeeded == 0 && s.unreachable == ended_badly) return exit_temporary;
  if (batch.files_rejected > 0) return exit_usage;
  return ended_badly > 0 ? exit_jobs_failed : exit_ok;
}

}  // namespace

int run_command(const RunOptions& options) {
  Diagnostics diags(options.config);
  auto loaded = load_config(options.config, diags);
  if (!loaded) {
    std::cerr << diags.str();
    return exit_usage;
  }
  const Config config = std::move(*loaded);
  std::vector<std::string> files = config.queue_files;
  files.insert(files.end(), options.queues.begin(), options.queues.end());
  LoadedBatch batch = load_job_files(files, config.defaults);
  ::malloc_trim(0);  // hand the parser's scratch memory back before the long run

  std::string error;
  auto user_key = read_user_key(config.api, error);
  if (!user_key) {
    std::cerr << "exportd: " << error << "\n";
    return exit_usage;
  }
  std::shared_ptr<asio::ssl::context> tls;
  try {
    if (config.api.endpoint.tls) tls = make_client_tls_context(config.api.ca_file);
  } catch (const std::exception& e) {
    std::cerr << "exportd: " << e.what() << "\n";
    return exit_usage;
  }

  std::error_code fec;
  fs::create_directories(config.state_dir, fec);
  if (fec) {
    std::cerr << "exportd: cannot create state_dir " << config.state_dir << ": " << fec.message() << "\n";
    return exit_temporary;
  }
  const std::string results_path = (fs::path(config.state_dir) / "results.jsonl").string();
  std::optional<ResultsFile> results;
  try {
    results.emplace(results_path);
  } catch (const std::exception& e) {
    std::cerr << "exportd: " << e.what() << "\n";
    return exit_temporary;
  }
  const std::uint64_t results_offset = fs::file_size(results_path, fec);

  Logger log(config.log);
  const bool draw = options.once && ::isatty(STDERR_FILENO) == 1;
  ProgressLine line(stderr);
  if (draw) log.attach(&line);

  asio::io_context io(1);
  HttpClient http(io.get_executor(), {config.api.endpoint, config.api.request_timeout,
                                      config.limits.max_connections, tls});
  PacedTransport paced(io.get_executor(), http, config.limits.requests_per_second);
  TokenSource tokens(io.get_executor(), paced, config.api.endpoint, config.api.app_id, std::move(*user_key),
                     config.api.token_refresh_after);
  Exporter exporter(io.get_executor(), config, paced, tokens, *results, log);

  log.info("starting", {{"version", EXPORTD_VERSION},
                        {"api", config.api.base_url},
                        {"jobs", std::to_string(batch.jobs.size())},
                        {"job_files", std::to_string(batch.files_ok)},
                        {"rejected_files", std::to_string(batch.files_rejected)}});
  const auto started = Clock::now();
  exporter.add(std::move(batch.jobs));

  RunSummary summary;
  bool done = false;
  bool interrupted = false;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    interrupted = true;
    log.warning("interrupted", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    io.stop();
  });
  asio::co_spawn(io, exporter.run(), [&](std::exception_ptr e, RunSummary s) {
    done = true;
    summary = s;
    signals.cancel();
    if (e) std::rethrow_exception(e);
  });
  if (draw) asio::co_spawn(io, draw_progress(exporter, line, done), asio::detached);
  try {
    io.run();
  } catch (const std::exception& e) {
    line.finish();
    std::cerr << "exportd: stopped: " << e.what() << "\n";
    return exit_temporary;
  }
  if (draw) {
    line.show(format_progress(exporter.counts(), std::chrono::duration_cast<Millis>(Clock::now() - started)));
    line.finish();
    log.attach(nullptr);
  }
  if (interrupted) {
    results->flush();
    std::cerr << "exportd: interrupted; jobs in flight were not recorded\n";
    return exit_temporary;
  }

  const double secs = std::chrono::duration<double>(Clock::now() - started).count();
  const auto counts = exporter.counts();
  if (options.once) {
    print_results_table(results_path, results_offset, stdout);
    std::printf("%llu jobs: %llu succeeded, %llu failed, %llu timed out; %llu API calls (%.1f per job) and %llu token "
                "request(s) in %.1f s\n",
                static_cast<unsigned long long>(counts.total), static_cast<unsigned long long>(summary.succeeded),
                static_cast<unsigned long long>(summary.failed), static_cast<unsigned long long>(summary.timed_out),
                static_cast<unsigned long long>(exporter.requests()),
                counts.total ? static_cast<double>(exporter.requests()) / static_cast<double>(counts.total) : 0.0,
                static_cast<unsigned long long>(tokens.requests()), secs);
    std::fflush(stdout);
  }
  if (summary.fatal) {
    if (summary.fatal->kind == FailureKind::credentials)
      std::cerr << "exportd: the API refused the credentials (api.app_id / user key): " << summary.fatal->code << " "
                << summary.fatal->message << "\n";
    else
      std::cerr << "exportd: " << summary.fatal->message << "\n";
  }
  log.info("finished", {{"succeeded", std::to_string(summary.succeeded)},
                        {"failed", std::to_string(summary.failed)},
                        {"timed_out", std::to_string(summary.timed_out)},
                        {"token_requests", std::to_string(tokens.requests())},
                        {"requests", std::to_string(paced.sent())}});
  return exit_code_for(summary, batch);
}

}  // namespace exportd
