#include "download/download_stage.hpp"

namespace exportd {

void DownloadStage::resume(std::uint32_t job, std::string url, std::string path, std::string validator,
                           std::optional<std::uint64_t> total, Checkpoint checkpoint) {
  Active d;
  d.url = std::move(url);
  d.file.path = std::move(path);
  adopt_partial_file(d.file, std::move(validator), total, std::move(checkpoint));
  active_[job] = std::move(d);
}

DownloadStage::Active* DownloadStage::find(std::uint32_t job) {
  const auto it = active_.find(job);
  return it == active_.end() ? nullptr : &it->second;
}

std::optional<std::uint32_t> DownloadStage::claim_file(std::uint32_t job) {
  const auto [owner, mine] = file_owners_.try_emplace(active_.at(job).file.path, job);
  if (mine || owner->second == job) return std::nullopt;
  return owner->second;
}

void DownloadStage::on_try(std::uint32_t job, FetchEnd end, std::uint64_t received) {
  bytes_ += received;
  if (end == FetchEnd::disk_full)
    disk_paused_.insert(job);
  else
    disk_paused_.erase(job);
}

void DownloadStage::end(std::uint32_t job) {
  if (const auto d = active_.find(job); d != active_.end()) {
    if (const auto owner = file_owners_.find(d->second.file.path); owner != file_owners_.end() && owner->second == job)
      file_owners_.erase(owner);
    active_.erase(d);
  }
  disk_paused_.erase(job);
}

}  // namespace exportd
