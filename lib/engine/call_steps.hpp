#pragma once

// One API call as a resumable pure algorithm (in the manner of Boost.MySQL's
// top_level_algo and google-cloud-cpp's retry_loop): through the gate, a
// token, the send, the reply read as the envelope and judged by RunRules,
// and, when the token was refused, a renewal and a replay (max_replays).
// Each step names the I/O the driver does next and takes back its outcome;
// the driver (ApiCaller::call) only awaits and carries out the run's decisions. No
// socket, timer or log in here, so each step is tested on its own.

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "api/wire.hpp"
#include "engine/run_rules.hpp"

namespace exportd {

class CallSteps {
 public:
  // `trips_breaker`: a job's call (true), or a sweep's list call (false:
  // its faults alone do not hold every call; see RunRules::on_call).
  CallSteps(RunRules& rules, bool trips_breaker) : rules_(rules), trips_breaker_(trips_breaker) {}

  struct Step {
    enum class Kind : std::uint8_t {
      pass_gate,  // wait until RunRules' gate lets a call go; then on_gate
      get_token,  // the current token (single flight); then on_token
      send,       // send the request with token(); then on_reply
      renew,      // the token was refused: drop it (TokenSource::reject), then on_renewed
      done,       // take_result()
    } kind;
    // A run decision to carry out before the next step (hold or release
    // every call, log it, stop the run). The call's error already has its
    // api_down set from it.
    std::optional<RunRules::Decision> decision;
  };

  static Step start() { return {Step::Kind::pass_gate, {}}; }
  // `go`: false when the run is stopping (nothing is sent).
  Step on_gate(bool go);
  Step on_token(ApiResult<std::string> token, TimePoint now);
  // The transport's outcome; `wall`: the time a reply's expiry is read against.
  Step on_reply(ApiResult<HttpReply> reply, TimePoint now, std::chrono::system_clock::time_point wall);
  Step on_renewed() {
    ++replays_;
    return start();
  }

  // A call is replayed after each refusal of a token it has not seen refused
  // before, up to this many times. A renewed token can lapse again before
  // the replay is answered (short-lived tokens, a replay that waited for a
  // connection): its refusal says nothing of the request. The same token
  // refused twice, or a fourth refusal, is the API's word on the request.
  static constexpr int max_replays = 3;

  const std::string& token() const { return token_; }
  bool replayed() const { return replays_ > 0; }
  // The call's outcome, once done: the reply's data, or why not (a secret
  // the API echoed back already redacted).
  ApiResult<boost::json::object> take_result() { return std::move(*result_); }

 private:
  Step fail(ApiError e, TimePoint now);
  bool may_replay() const { return replays_ < max_replays && token_ != refused_; }

  RunRules& rules_;
  bool trips_breaker_;
  int replays_ = 0;
  std::string token_;
  std::string refused_;  // the token refused last
  std::optional<ApiResult<boost::json::object>> result_;
};

}  // namespace exportd
