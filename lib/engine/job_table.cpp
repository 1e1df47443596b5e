#include "engine/job_table.hpp"

namespace exportd {

std::uint32_t JobTable::open_batch(std::string id, std::uint32_t jobs) {
  std::uint32_t index;
  if (free_batches_.empty()) {
    index = static_cast<std::uint32_t>(batches_.size());
    batches_.emplace_back();
    batch_open_.push_back(0);
  } else {
    index = free_batches_.back();
    free_batches_.pop_back();
  }
  batches_[index] = std::move(id);
  batch_open_[index] = jobs;
  if (jobs == 0) free_batches_.push_back(index);  // no job will end it
  return index;
}

void JobTable::fill(std::uint32_t index, JobSpec spec, ExportJob job) {
  if (counts_down(job.state)) ++in_flight_;
  job.spec = index;
  if (index == jobs_.size()) {
    specs_.push_back(std::move(spec));
    jobs_.push_back(std::move(job));
  } else {
    free_slots_.pop_back();  // take_slot() named it
    specs_[index] = std::move(spec);
    jobs_[index] = std::move(job);
  }
  ++accepted_;
  waiting_.push_back(index);
}

std::optional<std::uint32_t> JobTable::admit(std::uint32_t max_active) {
  if (waiting_.empty() || admitted_ >= max_active) return std::nullopt;
  const auto index = waiting_.front();
  waiting_.pop_front();
  ++admitted_;
  return index;
}

void JobTable::end(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  if (job.submitted_at != TimePoint{}) --in_flight_;
  --admitted_;
  if (--batch_open_[job.batch] == 0) {
    batches_[job.batch] = std::string();
    free_batches_.push_back(job.batch);
  }
  specs_[index] = JobSpec{};
  job = ExportJob{};
  free_slots_.push_back(index);
}

}  // namespace exportd
