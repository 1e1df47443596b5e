#pragma once

// The jobs of a run: each job's spec and state in a slot that an ended job
// frees for the next one (a daemon that runs for months holds only the jobs
// it is working on), the batches they came in, and the queue of accepted
// jobs waiting for admission (limits.max_active_jobs). Plain state.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "jobs/export_job.hpp"
#include "jobs/job_spec.hpp"

namespace exportd {

class JobTable {
 public:
  // A batch of `jobs` jobs begins: the index its jobs name in `batch` (an
  // ended batch's, reused: a daemon that takes a file a minute for a year
  // holds only the batches with jobs still open).
  std::uint32_t open_batch(std::string id, std::uint32_t jobs);
  // The slot the next job goes in: an ended job's, or a new one. The job
  // is placed with fill() before the next take_slot().
  std::uint32_t take_slot() const { return free_slots_.empty() ? size() : free_slots_.back(); }
  // Places an accepted job and queues it for admission.
  void fill(std::uint32_t index, JobSpec spec, ExportJob job);
  // The next job to admit while fewer than `max_active` are admitted.
  std::optional<std::uint32_t> admit(std::uint32_t max_active);
  // The API accepted a job's export (submitted, or an in-doubt one adopted).
  void export_accepted() { ++in_flight_; }
  // Whether `job` is the last open job of its batch.
  bool closes_batch(const ExportJob& job) const { return batch_open_[job.batch] == 1; }
  // The job has ended: its slot is free for the next one.
  void end(std::uint32_t index);

  ExportJob& operator[](std::uint32_t index) { return jobs_[index]; }
  const ExportJob& operator[](std::uint32_t index) const { return jobs_[index]; }
  const JobSpec& spec(std::uint32_t index) const { return specs_[index]; }
  const std::string& batch_id(const ExportJob& job) const { return batches_[job.batch]; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(jobs_.size()); }
  std::size_t batch_slots() const { return batches_.size(); }  // batches held, open or free
  auto begin() const { return jobs_.begin(); }
  auto end() const { return jobs_.end(); }

  // Nothing admitted and nothing waiting: every job has ended.
  bool idle() const { return admitted_ == 0 && waiting_.empty(); }
  std::uint64_t accepted() const { return accepted_; }
  std::uint32_t in_flight() const { return in_flight_; }  // accepted by the API, not ended

 private:
  std::deque<JobSpec> specs_;  // specs_[i] belongs to jobs_[i]
  std::deque<ExportJob> jobs_;
  std::vector<std::uint32_t> free_slots_;
  std::deque<std::string> batches_;          // batch ids, by index
  std::vector<std::uint32_t> batch_open_;    // ... and their jobs not ended
  std::vector<std::uint32_t> free_batches_;  // ended batches' indexes, for the next ones
  std::deque<std::uint32_t> waiting_;        // accepted, not yet admitted
  std::uint32_t admitted_ = 0;               // between admission and end
  std::uint32_t in_flight_ = 0;
  std::uint64_t accepted_ = 0;
};

}  // namespace exportd
