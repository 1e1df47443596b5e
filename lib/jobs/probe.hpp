#pragma once

// Reading the answer to a probe: after a submit whose outcome is unknown (a
// crash, a lost reply), did our export reach the API? Pure code.

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "api/wire.hpp"
#include "jobs/job_spec.hpp"

namespace exportd {

struct ProbeFinding {
  std::optional<std::string> running;  // the id of the export that is running: ours, adopt it
  std::optional<ApiError> retry;       // the probe itself failed (transient or fatal): try it again
  // Neither: the API knows no such export; the submit never took effect.
};

// An export job probes its project's progress: only a running export (below
// 100 %, not failed) is surely ours; 100 % may be an earlier export. A create
// job probes the project list for its tagged name.
ProbeFinding read_probe(const ApiResult<boost::json::object>& reply, JobKind kind, std::string_view tagged_name,
                        std::string_view project_id);

// The name a create job's project is given, with a tag derived from the
// batch and job key, so that after a crash the project can be found again
// in the project list instead of being created a second time.
std::string tagged_project_name(const std::string& name, const std::string& batch, const std::string& key);

}  // namespace exportd
