#include "engine/downloader.hpp"

#include <filesystem>

#include "text/file_name.hpp"

namespace exportd {

using boost::asio::awaitable;

Result<std::string> Downloader::video_path(std::uint32_t index) const {
  const ExportJob& job = jobs_[index];
  const JobSpec& spec = jobs_.spec(job.spec);
  std::string name = spec.file_name;
  if (name.empty()) {
    // A create job whose name uses {project_id}: made now that the project exists.
    const auto hash = spec.key.find('#');
    const std::string file = spec.key.substr(0, hash), id = spec.key.substr(hash + 1);
    auto made = render_name(config_.download.name, {file_stem(file), id, job.project_id, spec.resolution});
    if (!made) return made.error();
    name = std::move(*made);
  }
  return (std::filesystem::path(config_.download.dir) / name).lexically_normal().string();
}

awaitable<void> Downloader::record(std::uint32_t index) {
  const ExportJob& job = jobs_[index];
  const auto& d = stage_.at(index);
  // A named record: g++ 12 destroys a temporary inside co_await twice.
  const DownloadRecord record{d.url, d.file.path, d.file.part.validator, d.file.part.total, d.file.checkpoint};
  co_await ledger_.downloading(jobs_.batch_id(job), jobs_.spec(job.spec).key, record);
}

awaitable<std::optional<JobEvent>> Downloader::on_exported(std::uint32_t index, const std::string& url) {
  ExportJob& job = jobs_[index];
  auto& d = stage_.open(index);
  if (d.file.path.empty()) {
    auto path = video_path(index);
    if (!path) co_return machine_.on_no_file(job, path.error().message, url);
    d.file.path = std::move(*path);
    log_.info("exported", {{"job", jobs_.spec(job.spec).key}, {"project", job.project_id}, {"file", d.file.path}});
  }
  d.url = url;
  co_await record(index);
  co_return std::nullopt;
}

awaitable<std::optional<JobEvent>> Downloader::step(std::uint32_t index) {
  ExportJob& job = jobs_[index];
  auto& d = stage_.at(index);
  if (const auto owner = stage_.claim_file(index)) {
    // A job of another batch downloads to the same file (a job file taken
    // twice): this one waits its turn, then replaces it. Never two writers.
    log_.info("download_waiting",
              {{"job", jobs_.spec(job.spec).key}, {"file", d.file.path}, {"behind", jobs_.spec(*owner).key}});
    job.due = time_.now() + DownloadStage::file_busy_wait;
    co_return std::nullopt;
  }
  const auto most_before = d.file.most;
  const auto deadline = machine_.poll_policy().deadline(job.submitted_at);
  auto out =
      co_await fetcher_->fetch(d.url, d.file, deadline, [this, index](const VideoFile&) { return record(index); });
  stage_.on_try(index, out.end, out.received);
  metrics_->downloaded(out.received);
  if (!out.discarded.empty())
    log_.warning("download_discarded", {{"job", jobs_.spec(job.spec).key}, {"why", out.discarded}});
  const bool moved = moved_on(most_before, d.file.part.bytes);
  d.file.most = std::max(d.file.most, d.file.part.bytes);
  if (stopping_) co_return std::nullopt;
  if (out.end == FetchEnd::complete) {
    auto finished = co_await fetcher_->finish(d.file);
    if (finished) {
      metrics_->download_complete();
      d.done = std::move(*finished);
      co_return machine_.on_downloaded(job, time_.now());
    }
    out = {FetchEnd::retry_later, FetchCause::local, finished.error().message, out.received, {}};
  }
  co_return machine_.on_fetch(job, out.end, moved, out.why, time_.now(), random_());
}

}  // namespace exportd
