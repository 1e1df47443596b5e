#include "hooks/receiver.hpp"

namespace exportd {

namespace http = boost::beast::http;

std::string_view hook_token_in(std::string_view target) {
  target = target.substr(0, target.find('?'));
  constexpr std::string_view marker = "/hooks/";
  const auto at = target.rfind(marker);
  if (at == std::string_view::npos) return {};
  const auto token = target.substr(at + marker.size());
  return token.find('/') == std::string_view::npos ? token : std::string_view{};
}

HookReply answer_hook(const Incoming& request, const OnHook& on_hook) {
  const auto reply = [](http::status status, HookOutcome outcome) {
    return HookReply{
        Answer{status, "application/json", status == http::status::ok ? R"({"ok":true})" : R"({"ok":false})"}, outcome};
  };
  if (request.body_too_large) return reply(http::status::payload_too_large, HookOutcome::too_large);
  if (request.method != http::verb::post && request.method != http::verb::get)
    return reply(http::status::method_not_allowed, HookOutcome::bad_request);
  switch (on_hook(hook_token_in(request.target))) {
    case HookAnswer::accepted:
      return reply(http::status::ok, HookOutcome::accepted);
    case HookAnswer::ended:
      return reply(http::status::ok, HookOutcome::ended);
    case HookAnswer::unknown:
      break;
  }
  return reply(http::status::not_found, HookOutcome::unknown);
}

}  // namespace exportd
