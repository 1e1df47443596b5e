#pragma once

// Reading the answer to an export job's probe: after a submit whose outcome
// is unknown (a crash, a lost reply), did our export reach the API? Pure
// code. (A create job's probe is a lookup in the project list: create_lookup.hpp.)

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "api/wire.hpp"

namespace exportd {

struct ProbeFinding {
  std::optional<std::string> running;  // the id of the export that is running: ours, adopt it
  std::optional<ApiError> retry;       // the probe itself failed (transient or fatal): try it again
  // Neither: the API knows no such export; the submit never took effect.
};

// An export job probes its project's progress: only a running export (below
// 100 %, not failed) is surely ours; 100 % may be an earlier export.
ProbeFinding read_probe(const ApiResult<boost::json::object>& reply, std::string_view project_id);

}  // namespace exportd
