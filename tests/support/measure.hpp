#pragma once

// Small helpers the benchmarks and tests share to read figures.

#include <cstdint>
#include <string>
#include <vector>

namespace exportd::testing {

// "2026-11-25T22:13:20.123Z" (results.jsonl) as milliseconds since the Unix epoch; 0 if unreadable.
std::int64_t parse_rfc3339_ms(const std::string& s);

// The p-quantile (0..1) of `v`, nearest rank below; 0 for none.
double percentile(std::vector<double> v, double p);

// A TCP port on 127.0.0.1 that was free a moment ago (for a receiver a test configures).
std::uint16_t free_loopback_port();

}  // namespace exportd::testing
