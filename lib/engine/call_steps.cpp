#include "engine/call_steps.hpp"

#include "text/safe_text.hpp"

namespace exportd {

CallSteps::Step CallSteps::on_gate(bool go) {
  if (go) return {Step::Kind::get_token, {}};
  result_ = ApiError{Errc::stopping, 0, "stopping", "exportd is stopping", {}};
  return {Step::Kind::done, {}};
}

CallSteps::Step CallSteps::fail(ApiError e, TimePoint now) {
  auto d = rules_.on_call(&e, !may_replay(), now, trips_breaker_);
  e.api_down = d.api_down;
  result_ = std::move(e);
  return {Step::Kind::done, std::move(d)};
}

CallSteps::Step CallSteps::on_token(ApiResult<std::string> token, TimePoint now) {
  if (!token) return fail(token.error(), now);
  token_ = std::move(*token);
  return {Step::Kind::send, {}};
}

CallSteps::Step CallSteps::on_reply(ApiResult<HttpReply> reply, TimePoint now,
                                    std::chrono::system_clock::time_point wall) {
  if (!reply) return fail(reply.error(), now);
  // An API that echoes the request must not put the token in a log.
  if (token_.size() >= min_secret_to_redact_in_bodies) redact(reply->body, token_);
  redact_hook_tokens(reply->body);
  auto env = parse_envelope(*reply, wall);
  if (env) {
    auto d = rules_.on_call(nullptr, !may_replay(), now);
    result_ = std::move(env);
    return {Step::Kind::done, std::move(d)};
  }
  ApiError e = env.error();
  redact(e.message, token_);
  redact(e.code, token_);
  redact_hook_tokens(e.message);
  redact_hook_tokens(e.code);
  auto step = fail(std::move(e), now);
  if (step.decision->next == RunRules::Decision::Next::renew_and_replay) {
    step.kind = Step::Kind::renew;
    refused_ = token_;
  }
  return step;
}

}  // namespace exportd
