#pragma once

// The morning read (SPEC §11, issue 12): what the recent batches did, from
// the results files alone. Pure: lines in, summaries out.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>

namespace exportd {

// Batch ids are "<UTC stamp>-<tag>-<file name>"; the tag is a sequence
// number for dropped files and "q<digest>" for queue files. The file name.
std::string name_from_batch_id(const std::string& id);

struct BatchSummary {
  std::string batch;  // its id ("" for lines written before results carried one)
  std::optional<std::chrono::system_clock::time_point> started;  // the earliest submit
  std::optional<std::chrono::system_clock::time_point> ended;    // the latest ending
  std::uint64_t succeeded = 0, failed = 0, timed_out = 0;
  std::map<std::string, std::uint64_t> failures;  // error code -> jobs (at most 20 codes; the rest as "other")
  std::uint64_t videos = 0, video_bytes = 0;      // downloaded files
  std::uint64_t requests = 0;                     // API calls its jobs made
  std::uint64_t jobs() const { return succeeded + failed + timed_out; }
};

class BatchSummaries {
 public:
  // One results line (a line that is not one is skipped).
  void add(const boost::json::object& line);
  void add_line(std::string_view line);
  std::size_t batches() const { return by_batch_.size(); }
  // The `n` batches that ended last, newest first.
  std::vector<BatchSummary> latest(std::size_t n) const;

 private:
  std::unordered_map<std::string, BatchSummary> by_batch_;
};

boost::json::object to_json(const BatchSummary& s);

}  // namespace exportd
