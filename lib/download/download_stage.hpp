#pragma once

// The downloads of one run (SPEC §10) as plain state: each downloading
// job's latest link and its file, which job writes which file (never two at
// once), the jobs whose last try met a full disk, and the bytes written. Its
// own due queue, which the download workers take from, outside the API's
// budget and connection pool. No I/O and no clock: the exporter's workers
// carry out the tries and tell it how each ended.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "download/fetch.hpp"
#include "schedule/clock.hpp"
#include "schedule/due_queue.hpp"

namespace exportd {

class DownloadStage {
 public:
  struct Active {
    std::string url;  // the latest link
    VideoFile file;   // file.path empty until the job's file name is made
    std::optional<FinishedVideo> done;
    std::chrono::system_clock::time_point exported{};  // when its export was seen finished (results' exported_at)
  };
  // A job whose file another job writes looks again this much later.
  static constexpr Millis file_busy_wait{5'000};

  // A job recovered mid-download: it resumes from the bytes on disk.
  void resume(std::uint32_t job, std::string url, std::string path, std::string validator,
              std::optional<std::uint64_t> total, Checkpoint checkpoint);
  // The job's download, made empty when it has none yet.
  Active& open(std::uint32_t job) { return active_[job]; }
  Active* find(std::uint32_t job);
  Active& at(std::uint32_t job) { return active_.at(job); }

  // Whether `job` may write its file now. Nothing: it may (it owns the
  // file from now until end()); otherwise the job that writes it.
  std::optional<std::uint32_t> claim_file(std::uint32_t job);
  // How one try ended: `received` body bytes written.
  void on_try(std::uint32_t job, FetchEnd end, std::uint64_t received);
  // The job has ended (or never got a file): its file is free, its state gone.
  void end(std::uint32_t job);

  DueQueues& due() { return due_; }
  const DueQueues& due() const { return due_; }
  std::size_t downloading() const { return active_.size(); }
  std::size_t paused() const { return disk_paused_.size(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::unordered_map<std::uint32_t, Active> active_;            // jobs in the downloading state
  std::unordered_set<std::uint32_t> disk_paused_;               // ... whose last try met a full disk
  std::unordered_map<std::string, std::uint32_t> file_owners_;  // video file -> the job writing it
  DueQueues due_;
  std::uint64_t bytes_ = 0;  // body bytes written, every try
};

}  // namespace exportd
