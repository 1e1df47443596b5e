#pragma once

// Reads a Prometheus text exposition back for tests: "name{labels}" -> value
// for every sample line (comments skipped).

#include <map>
#include <sstream>
#include <string>

namespace exportd::testing {

inline std::map<std::string, double> samples_of(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

}  // namespace exportd::testing
