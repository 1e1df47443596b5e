// One API call's steps (engine/call_steps.hpp), each fed its outcome by
// hand: what comes next when the call fails at step n, the one replay after
// a refused token, the redaction of an echoed token, and the run decisions
// each outcome carries.

#include <gtest/gtest.h>

#include "engine/call_steps.hpp"
#include "scripted_transport.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using Kind = CallSteps::Step::Kind;
using testing::ok_json;

const TimePoint t0{};
const std::chrono::system_clock::time_point wall = std::chrono::system_clock::from_time_t(1'764'028'800);
const std::string token = "tok-0123456789abcdef-0123456789";

RunRules rules() { return RunRules(RunRules::Settings{RunMode::batch}); }
ApiError transport_error() { return ApiError{Errc::transport, 0, "transport", "connection refused", {}}; }
HttpReply expired() { return {401, R"({"success":false,"error":{"code":401,"msg":"expired"}})", ""}; }

// Gate, token, send, done: the reply's data, and a decision that delivers it.
TEST(CallSteps, ACallThatGoesThroughPassesTheGateTakesATokenSendsAndDelivers) {
  auto r = rules();
  CallSteps c(r, true);
  auto s = CallSteps::start();
  EXPECT_EQ(s.kind, Kind::pass_gate);
  s = c.on_gate(true);
  EXPECT_EQ(s.kind, Kind::get_token);
  s = c.on_token(token, t0);
  EXPECT_EQ(s.kind, Kind::send);
  EXPECT_EQ(c.token(), token);
  s = c.on_reply(ok_json(R"({"progress":40})"), t0, wall);
  EXPECT_EQ(s.kind, Kind::done);
  ASSERT_TRUE(s.decision);
  EXPECT_EQ(s.decision->next, RunRules::Decision::Next::deliver);
  const auto result = c.take_result();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->at("progress").as_int64(), 40);
}

// The call fails at each step in turn: it ends there, with that step's
// error, and (past the gate) a decision for the run; nothing is replayed.
TEST(CallSteps, ACallThatFailsAtStepNEndsThereWithThatStepsError) {
  for (int n = 0; n < 3; ++n) {
    SCOPED_TRACE(n);
    auto r = rules();
    CallSteps c(r, true);
    CallSteps::Step s = CallSteps::start();
    s = c.on_gate(n != 0);
    if (n == 0) {
      EXPECT_EQ(s.kind, Kind::done);
      EXPECT_FALSE(s.decision) << "stopping: nothing happened to hold against the API";
      EXPECT_EQ(c.take_result().error().kind, Errc::stopping);
      continue;
    }
    s = n == 1 ? c.on_token(transport_error(), t0) : c.on_token(token, t0);
    if (n == 2) s = c.on_reply(transport_error(), t0, wall);
    EXPECT_EQ(s.kind, Kind::done);
    ASSERT_TRUE(s.decision);
    EXPECT_EQ(s.decision->next, RunRules::Decision::Next::deliver);
    const auto e = c.take_result().error();
    EXPECT_EQ(e.kind, Errc::transport);
    EXPECT_FALSE(e.api_down) << "one failure does not hold the calls";
    EXPECT_FALSE(c.replayed());
  }
}

// A call refused once with `token`, renewed, and through the gate again.
void refuse_once(CallSteps& c) {
  c.on_gate(true);
  c.on_token(token, t0);
  ASSERT_EQ(c.on_reply(expired(), t0, wall).kind, Kind::renew);
  c.on_renewed();
  c.on_gate(true);
}

// A refused token: dropped, renewed, and the call sent once more. Refused
// again with the renewed token (it may have lapsed meanwhile), it is renewed
// and replayed again, up to max_replays; the same token refused twice ends
// the call at once. Never a loop.
TEST(CallSteps, ARefusedTokenIsRenewedAndTheCallReplayedABoundedNumberOfTimes) {
  auto r = rules();
  CallSteps c(r, true);
  c.on_gate(true);
  c.on_token(token, t0);
  auto s = c.on_reply(expired(), t0, wall);
  EXPECT_EQ(s.kind, Kind::renew);
  ASSERT_TRUE(s.decision);
  EXPECT_EQ(s.decision->next, RunRules::Decision::Next::renew_and_replay);
  EXPECT_EQ(c.token(), token) << "the token to drop";
  s = c.on_renewed();
  EXPECT_EQ(s.kind, Kind::pass_gate) << "the replay goes through the gate again";
  EXPECT_TRUE(c.replayed());
  int sends = 1;
  for (int i = 1;; ++i) {
    c.on_gate(true);
    s = c.on_token("tok-fresh-" + std::to_string(i) + "-0123456789abcdef", t0);
    EXPECT_EQ(s.kind, Kind::send);
    ++sends;
    s = c.on_reply(expired(), t0, wall);
    if (s.kind == Kind::done) break;
    ASSERT_EQ(s.kind, Kind::renew) << "a token not refused before: renewed and replayed";
    ASSERT_LT(sends, 10) << "a loop";
    c.on_renewed();
  }
  EXPECT_EQ(sends, 1 + CallSteps::max_replays);
  EXPECT_EQ(c.take_result().error().kind, Errc::unauthorized);

  CallSteps same(r, true);
  refuse_once(same);
  same.on_token(token, t0);  // the token source had no other
  EXPECT_EQ(same.on_reply(expired(), t0, wall).kind, Kind::done) << "the same token refused twice: no replay";
  EXPECT_EQ(same.take_result().error().kind, Errc::unauthorized);

  CallSteps ok(r, true);
  refuse_once(ok);
  ok.on_token("tok-fresh-0123456789abcdef", t0);
  EXPECT_EQ(ok.on_reply(ok_json("{}"), t0, wall).kind, Kind::done);
  EXPECT_TRUE(ok.take_result()) << "the replay went through";
}

// An API that echoes the request puts the token in its error: it never
// reaches the result (and so never a log or a results file).
TEST(CallSteps, ATokenEchoedInAnErrorIsRedacted) {
  auto r = rules();
  CallSteps c(r, true);
  c.on_gate(true);
  c.on_token(token, t0);
  c.on_reply(HttpReply{200, R"({"success":false,"error":{"code":"E_)" + token + R"(","msg":"bad token )" + token + "\"}}", ""},
             t0, wall);
  const auto e = c.take_result().error();
  EXPECT_EQ(e.message.find(token), std::string::npos) << e.message;
  EXPECT_EQ(e.code.find(token), std::string::npos) << e.code;
  EXPECT_NE(e.message.find("[redacted]"), std::string::npos);

  // Issue 25, H11: a webhook URL quoted back (as written, JSON-escaped or
  // percent-encoded) keeps its path but never its live hook token.
  const std::string hook = "0123456789abcdef0123456789abcdef";
  for (const std::string& quoted : {"https://x.example/exportd/hooks/" + hook, R"(https:\/\/x.example\/hooks\/)" + hook,
                                    "https%3A%2F%2Fx.example%2Fhooks%2F" + hook}) {
    CallSteps h(r, true);
    h.on_gate(true);
    h.on_token(token, t0);
    h.on_reply(HttpReply{400, R"({"success":false,"error":{"code":"bad )" + quoted + R"(","msg":"webhookUrl )" + quoted +
                                  " is refused\"}}",
                         ""},
               t0, wall);
    const auto he = h.take_result().error();
    EXPECT_EQ(he.message.find(hook), std::string::npos) << he.message;
    EXPECT_EQ(he.code.find(hook), std::string::npos) << he.code;
    EXPECT_NE(he.message.find("hooks"), std::string::npos) << "the rest of the text stays: " << he.message;
  }

  // A token too short to be cut out of a whole body safely is still cut
  // out of the error's message and code.
  const std::string short_token = "tk-42";
  CallSteps s(r, true);
  s.on_gate(true);
  s.on_token(short_token, t0);
  s.on_reply(HttpReply{200, R"({"success":false,"error":{"code":"E_tk-42","msg":"bad token tk-42"}})", ""}, t0, wall);
  const auto short_e = s.take_result().error();
  EXPECT_EQ(short_e.message.find(short_token), std::string::npos) << short_e.message;
  EXPECT_EQ(short_e.code.find(short_token), std::string::npos) << short_e.code;
}

// Five failures in a row trip the breaker: the fifth call's decision holds
// every call and its error is the API's, not the job's. A sweep's list
// calls alone never trip it.
TEST(CallSteps, TheFifthFailureInARowHoldsTheCallsButASweepsFaultsAloneDoNot) {
  auto r = rules();
  for (int i = 1; i <= 5; ++i) {
    CallSteps c(r, true);
    c.on_gate(true);
    c.on_token(token, t0);
    const auto s = c.on_reply(transport_error(), t0 + i * 1s, wall);
    ASSERT_TRUE(s.decision);
    EXPECT_EQ(s.decision->held_now, i == 5) << i;
    EXPECT_EQ(c.take_result().error().api_down, i == 5) << i;
  }
  auto sweeps = rules();
  for (int i = 1; i <= 10; ++i) {
    CallSteps c(sweeps, false);
    c.on_gate(true);
    c.on_token(token, t0);
    const auto s = c.on_reply(transport_error(), t0 + i * 1s, wall);
    EXPECT_FALSE(s.decision->held_now) << i;
  }
  EXPECT_FALSE(sweeps.held());
}

}  // namespace
}  // namespace exportd
