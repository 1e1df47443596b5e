#pragma once

// The one way an API call of a run goes out: through RunRules' gate (every
// call held while the API is unreachable or the credentials are refused),
// with the current token, over the transport, and RunRules' verdict on the
// outcome carried out (hold, release, log, stop the run). The steps are
// CallSteps'; this class only awaits them. Jobs, sweeps and probes all call
// through one ApiCaller, so the run's rules see every outcome.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "api/transport.hpp"
#include "auth/token_source.hpp"
#include "engine/run_rules.hpp"
#include "jobs/export_job.hpp"
#include "ops/log.hpp"
#include "schedule/engine_time.hpp"

namespace exportd {

class ApiCaller {
 public:
  // `on_stop`: the run stops (RunRules gave up on the API, or a job's
  // failure is fatal to it); called once the reason is recorded.
  ApiCaller(boost::asio::any_io_executor ex, RunRules::Settings rules, Transport& transport, TokenSource& tokens,
            Logger& log, EngineTime& time, std::function<void()> on_stop);

  // One call, counted on `job` (a sweep's or a probe of the list: on none);
  // `who` names it in a debug line when its token is refused.
  boost::asio::awaitable<ApiResult<boost::json::object>> call(ExportJob* job, std::string_view who,
                                                              const ApiRequest& request);

  // The run stops with `error` (the first one given is kept and logged).
  void stop_run(const JobError& error);
  // No call goes out from now; calls waiting at the gate return.
  void stop();
  void reconfigure(RunRules::Settings rules) { rules_.reconfigure(rules); }

  const RunRules& rules() const { return rules_; }
  bool stops_run(Errc kind) const { return rules_.stops_run(kind); }
  std::uint64_t requests() const { return requests_; }  // sent, the token's aside

 private:
  boost::asio::awaitable<bool> pass_gate();  // false: the run is stopping
  void carry_out(const RunRules::Decision& d);

  RunRules rules_;
  Transport& transport_;
  TokenSource& tokens_;
  Logger& log_;
  EngineTime& time_;
  std::function<void()> on_stop_;
  std::unique_ptr<Alarm> held_until_;  // calls held by RunRules: the next probe time
  std::uint64_t requests_ = 0;
};

}  // namespace exportd
