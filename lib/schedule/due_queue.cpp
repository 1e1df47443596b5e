#include "schedule/due_queue.hpp"

namespace exportd {

void DueQueues::push(Lane lane, TimePoint at, std::uint32_t job) { lanes_[static_cast<int>(lane)].push({at, job}); }

std::optional<DueQueues::Due> DueQueues::pop_due(TimePoint now) {
  Heap& submits = lanes_[0];
  Heap& polls = lanes_[1];
  const bool submit_due = !submits.empty() && submits.top().at <= now;
  const bool poll_due = !polls.empty() && polls.top().at <= now;
  if (!submit_due && !poll_due) return std::nullopt;
  Heap* from = submit_due && poll_due ? (submit_next_ ? &submits : &polls) : (submit_due ? &submits : &polls);
  if (submit_due && poll_due) submit_next_ = !submit_next_;
  const Due due{from->top().job, from->top().at};
  from->pop();
  return due;
}

TimePoint DueQueues::next() const {
  TimePoint t = TimePoint::max();
  for (const auto& lane : lanes_)
    if (!lane.empty() && lane.top().at < t) t = lane.top().at;
  return t;
}

}  // namespace exportd
