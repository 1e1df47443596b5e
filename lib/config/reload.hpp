#pragma once

// SIGHUP as one pure step: the running config and the one just read in,
// out comes what the run goes on with, which changed keys took effect and
// which need a restart (kept as they were, named in one warning line).

#include <string>
#include <vector>

#include "config/settings.hpp"

namespace exportd {

struct ReloadPlan {
  Config next;                       // what the run goes on with
  std::vector<std::string> live;     // changed keys that take effect now
  std::vector<std::string> restart;  // changed keys that need a restart; their old values stay
};

ReloadPlan plan_reload(const Config& running, const Config& fresh);

}  // namespace exportd
