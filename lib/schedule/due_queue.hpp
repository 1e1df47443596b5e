#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "schedule/clock.hpp"

namespace exportd {

// Which kind of call a due job needs.
enum class Lane : std::uint8_t {
  submit,  // export/create requests and the probes that may replace them
  poll,    // progress checks
};

// The one place that decides who goes next: two earliest-first queues, one
// per lane. When both have jobs due, they take turns, so a flood of overdue
// polls cannot starve new submits (nor the reverse); within a lane the job
// due longest goes first, so when the budget is short every job's poll
// interval stretches alike.
class DueQueues {
 public:
  void push(Lane lane, TimePoint at, std::uint32_t job);
  // The next job due at `now`, with the time it was queued for: an entry
  // whose job has since been given another time is stale (the caller skips it).
  struct Due {
    std::uint32_t job;
    TimePoint at;
  };
  std::optional<Due> pop_due(TimePoint now);
  // The earliest due time of all, or TimePoint::max() when empty.
  TimePoint next() const;
  std::size_t size() const { return lanes_[0].size() + lanes_[1].size(); }

 private:
  struct Entry {
    TimePoint at;
    std::uint32_t job;
    bool operator>(const Entry& o) const { return at > o.at || (at == o.at && job > o.job); }
  };
  using Heap = std::priority_queue<Entry, std::vector<Entry>, std::greater<>>;
  Heap lanes_[2];
  bool submit_next_ = true;
};

}  // namespace exportd
