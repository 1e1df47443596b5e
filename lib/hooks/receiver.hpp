#pragma once

// The webhook receiver (SPEC §9), served by an HttpListener on
// webhook.listen. A call to .../hooks/TOKEN (POST with any body, or GET with
// a query) is a hint that the job may have finished: it is answered at once
// (200), and the engine asks the API for the job's progress. The call's own
// fields are never trusted. Unknown tokens get 404, bodies over 64 KiB 413;
// the listener drops a client that has not sent its request within 10 s and
// bounds open connections. No token is ever written to a log.

#include <cstdint>
#include <functional>
#include <string_view>

#include "http/listener.hpp"
#include "ops/metrics.hpp"

namespace exportd {

// What the engine made of a hook's token.
enum class HookAnswer : std::uint8_t {
  accepted,  // a job of ours: its progress is read now (or soon: one read for many hooks)
  ended,     // a job that has ended already: nothing to do
  unknown,   // no job of ours: 404, no API call
};

// The token of a hook request's target: the path segment after the last
// "/hooks/", query string aside. Empty when the path is not a hook's.
std::string_view hook_token_in(std::string_view target);

using OnHook = std::function<HookAnswer(std::string_view token)>;

// The receiver's answer to one request, and what it did with it.
struct HookReply {
  Answer answer;
  HookOutcome outcome;
};
HookReply answer_hook(const Incoming& request, const OnHook& on_hook);

}  // namespace exportd
