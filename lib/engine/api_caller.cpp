#include "engine/api_caller.hpp"

#include "engine/call_steps.hpp"
#include "time/duration.hpp"

namespace exportd {

using boost::asio::awaitable;

ApiCaller::ApiCaller(boost::asio::any_io_executor ex, RunRules::Settings rules, Transport& transport,
                     TokenSource& tokens, Logger& log, EngineTime& time, std::function<void()> on_stop)
    : rules_(rules),
      transport_(transport),
      tokens_(tokens),
      log_(log),
      time_(time),
      on_stop_(std::move(on_stop)),
      held_until_(time.alarm(ex)) {}

awaitable<ApiResult<boost::json::object>> ApiCaller::call(ExportJob* job, std::string_view who,
                                                         const ApiRequest& request) {
  CallSteps steps(rules_, job != nullptr);
  for (auto step = CallSteps::start();;) {
    if (step.decision) carry_out(*step.decision);
    switch (step.kind) {
      case CallSteps::Step::Kind::pass_gate:
        step = steps.on_gate(co_await pass_gate());
        break;
      case CallSteps::Step::Kind::get_token:
        step = steps.on_token(co_await tokens_.get(), time_.now());
        break;
      case CallSteps::Step::Kind::send:
        if (job != nullptr) {
          ++job->requests;
          if (request.call == ApiCall::export_project || request.call == ApiCall::create_project) ++job->submissions;
        }
        ++requests_;
        step = steps.on_reply(co_await transport_.exchange(request, steps.token()), time_.now(), time_.wall_now());
        break;
      case CallSteps::Step::Kind::renew:
        // Renewed once for everybody (single flight in TokenSource), then replayed.
        log_.debug("token_refused", {{"job", std::string(who)}, {"call", to_string(request.call)}});
        tokens_.reject(steps.token());
        step = steps.on_renewed();
        break;
      case CallSteps::Step::Kind::done:
        co_return steps.take_result();
    }
  }
}

awaitable<bool> ApiCaller::pass_gate() {
  for (;;) {
    const auto g = rules_.gate(time_.now());
    if (g.kind == RunRules::Gate::Kind::stopped) co_return false;
    if (g.kind == RunRules::Gate::Kind::go) co_return true;
    if (held_until_->expiry() != g.until) held_until_->expires_at(g.until);
    co_await held_until_->wait();
  }
}

void ApiCaller::carry_out(const RunRules::Decision& d) {
  if (d.back_now) {
    log_.warning("api_back", {{"after", format_eta(d.held_for)}});
    held_until_->cancel();  // everybody waiting goes on
  }
  if (rules_.held() && held_until_->expiry() != rules_.next_probe()) held_until_->expires_at(rules_.next_probe());
  if (d.held_now)
    log_.warning("api_held",
                 {{"why", rules_.held_because()},
                  {"probes_failed", std::to_string(rules_.failed_probes())},
                  {"next_try_in", format_eta(std::chrono::duration_cast<Millis>(rules_.next_probe() - time_.now()))}});
  if (d.stop) stop_run(*d.stop);
}

void ApiCaller::stop_run(const JobError& error) {
  if (!rules_.fatal()) log_.error("stopped", {{"reason", error.code}, {"message", error.message}});
  rules_.stop(error);
  held_until_->cancel();
  on_stop_();
}

void ApiCaller::stop() {
  rules_.stop();
  held_until_->cancel();
}

}  // namespace exportd
