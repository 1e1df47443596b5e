#pragma once

// The morning report (SPEC §14): one self-contained HTML page (no external
// file, no network, no script) from results lines alone: the figures,
// failures grouped by reason with what to do, the slowest exports, and the
// night as an inline SVG timeline (a lane per job, or stacked counts per
// minute past `lanes_max` jobs). Pure: lines in, a page out; the caller
// reads the files and says how to write a time in the operator's zone.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "ops/results.hpp"

namespace exportd {

using WallTime = std::chrono::system_clock::time_point;

// One job's line of results.jsonl, as the report reads it.
struct ReportJob {
  std::string job, batch;
  JobOutcome status = JobOutcome::failed;
  std::string code, message;       // a failure's
  std::string file;                // its video, when downloaded
  std::uint64_t bytes = 0;
  std::uint32_t requests = 0, attempts = 0, row = 0;
  std::optional<WallTime> queued;     // its batch began (from the batch id's UTC stamp)
  std::optional<WallTime> submitted;  // the API accepted it
  std::optional<WallTime> exported;   // its export seen finished (then downloading, delivering)
  std::optional<WallTime> delivering; // its delivery command first started
  WallTime finished{};
};
// Nothing for a line that is not a job's result.
std::optional<ReportJob> report_job(const boost::json::object& line);

struct ReportOptions {
  std::string title = "exportd: the night's report";
  std::string scope;  // what the page covers, as the operator asked ("the last 24 h", "batch …")
  // A time as the operator reads it, with its zone ("2026-12-06 02:13:05 CET").
  std::function<std::string(WallTime)> local_time;
  WallTime written{};          // when the report was made
  std::size_t lanes_max = 300;  // one lane per job up to this many; stacked counts per minute past it
  std::size_t slowest = 10;     // how many of the slowest exports are listed
};

std::string render_report(const std::vector<ReportJob>& jobs, const ReportOptions& options);

// What an operator can do about a failure with this code (the API's, or ours).
std::string_view what_to_do(std::string_view code);

}  // namespace exportd
