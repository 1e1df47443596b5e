#pragma once

// The run's two HTTP listeners, each on its own address: the webhook
// receiver (SPEC §9), which turns a call into a job's "read now", and
// /metrics (SPEC §11). Each is bound before any job is added, so a port
// that is taken stops the start (exit 75) rather than half a run.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "auth/token_source.hpp"
#include "config/config.hpp"
#include "engine/exporter.hpp"
#include "hooks/hook_keys.hpp"
#include "http/listener.hpp"
#include "http/paced_transport.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "spool/batch_store.hpp"

namespace exportd {

// What /metrics reads of the run, besides the counters.
struct MetricsSources {
  const Exporter& exporter;
  const TokenSource& tokens;
  const PacedTransport& paced;
  const BatchStore& store;
  std::chrono::system_clock::time_point started;
};

class Listeners {
 public:
  using Supervise = std::function<std::function<void(std::exception_ptr)>(std::string task)>;

  Listeners(boost::asio::io_context& io, const Config& config, Metrics& metrics, Logger& log, Supervise supervise)
      : io_(io), config_(config), metrics_(metrics), log_(log), supervise_(std::move(supervise)) {}

  // The webhook's keys (state_dir/hook.key), before the exporter is made:
  // exit_ok, or the exit code after saying why on stderr.
  int open_hook_keys();
  const HookKeys* hook_keys() const { return hook_keys_ ? &*hook_keys_ : nullptr; }
  // The webhook receiver, answering from `exporter` (made with hook_keys()).
  int start_receiver(Exporter& exporter);
  // /metrics.
  int start_metrics(MetricsSources sources);
  void stop();

 private:
  boost::asio::io_context& io_;
  const Config& config_;
  Metrics& metrics_;
  Logger& log_;
  Supervise supervise_;
  std::optional<HookKeys> hook_keys_;
  std::unique_ptr<HttpListener> receiver_;
  std::unique_ptr<HttpListener> metrics_listener_;
  std::optional<MetricsSources> sources_;
};

}  // namespace exportd
