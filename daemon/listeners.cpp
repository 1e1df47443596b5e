#include "listeners.hpp"

#include <iostream>

#include <boost/asio/co_spawn.hpp>

#include "commands.hpp"
#include "hooks/receiver.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace http = boost::beast::http;

int Listeners::open_hook_keys() {
  auto keys = HookKeys::open(config_.state_dir);
  if (!keys) {
    std::cerr << "exportd: " << keys.error().message << "\n";
    return exit_temporary;
  }
  hook_keys_.emplace(std::move(*keys));
  return exit_ok;
}

int Listeners::start_receiver(Exporter& exporter) {
  const auto where = parse_listen_address(config_.webhook.listen);  // checked when the config was read
  auto bound = HttpListener::bind(
      io_.get_executor(), "webhook.listen", where->host, where->port,
      [this, &exporter](const Incoming& request) {
        auto reply = answer_hook(request, [&exporter](std::string_view token) { return exporter.hint(token); });
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
  asio::co_spawn(io_, receiver_->run(), supervise_("webhook receiver"));
  return exit_ok;
}

int Listeners::start_metrics(MetricsSources sources) {
  sources_.emplace(sources);
  const auto gauges = [this] {
    const auto& s = *sources_;
    MetricsGauges g;
    g.jobs = s.exporter.counts();
    g.token_renewals = s.tokens.issued();
    g.token_failures = s.tokens.requests() - s.tokens.issued();
    g.calls_held = s.exporter.calls_held();
    g.budget = config_.limits.requests_per_second;
    g.request_rate = s.paced.rate();
    g.results_rotations = s.store.results_rotations();
    g.started_at = std::chrono::duration_cast<std::chrono::seconds>(s.started.time_since_epoch()).count();
    return g;
  };
  const auto where = parse_listen_address(config_.metrics.listen);  // checked when the config was read
  auto bound = HttpListener::bind(
      io_.get_executor(), "metrics.listen", where->host, where->port,
      [this, gauges](const Incoming& request) {
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
  asio::co_spawn(io_, metrics_listener_->run(), supervise_("metrics listener"));
  return exit_ok;
}

void Listeners::stop() {
  if (receiver_) receiver_->stop();
  if (metrics_listener_) metrics_listener_->stop();
}

}  // namespace exportd
