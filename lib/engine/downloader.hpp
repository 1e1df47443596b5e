#pragma once

// The download step of a job (SPEC §10): its file named once its export is
// done, one try of the fetch carried out, how it ended fed to DownloadStage
// and to the job machine. Owns the run's DownloadStage (links, files, their
// writers, disk-full pauses, its due queue); the download workers that take
// from that queue are the exporter's, like the API's.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "config/settings.hpp"
#include "download/download_stage.hpp"
#include "download/fetch.hpp"
#include "engine/job_table.hpp"
#include "engine/ledger.hpp"
#include "jobs/export_job.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "schedule/backoff.hpp"
#include "schedule/engine_time.hpp"

namespace exportd {

class Downloader {
 public:
  // `metrics`: where downloads are counted until use_metrics() says otherwise.
  Downloader(const Config& config, JobTable& jobs, const JobMachine& machine, JobLedger& ledger, Logger& log,
             EngineTime& time, UnitRandom& random, Metrics& metrics)
      : config_(config),
        jobs_(jobs),
        machine_(machine),
        ledger_(ledger),
        log_(log),
        time_(time),
        random_(random),
        metrics_(&metrics) {}

  void use(VideoFetcher& fetcher) { fetcher_ = &fetcher; }
  bool on() const { return fetcher_ != nullptr; }
  void use_metrics(Metrics& metrics) { metrics_ = &metrics; }
  void stop() { stopping_ = true; }

  // The job's export is done with `url`: its file is named (once) and the
  // link journaled. The event to end it with when no file can be named.
  boost::asio::awaitable<std::optional<JobEvent>> on_exported(std::uint32_t index, const std::string& url);
  // One try of the job's download. Nothing: no event to apply (its file is
  // another job's for now and it looks again at its `due`, or the run is
  // stopping and NAME.part and the journal hold where it got to).
  boost::asio::awaitable<std::optional<JobEvent>> step(std::uint32_t index);

  DownloadStage& stage() { return stage_; }
  const DownloadStage& stage() const { return stage_; }

 private:
  // The video file a job's download goes to: its spec's, or made now that its project id is known.
  Result<std::string> video_path(std::uint32_t index) const;
  boost::asio::awaitable<void> record(std::uint32_t index);

  const Config& config_;
  JobTable& jobs_;
  const JobMachine& machine_;
  JobLedger& ledger_;
  Logger& log_;
  EngineTime& time_;
  UnitRandom& random_;
  VideoFetcher* fetcher_ = nullptr;
  Metrics* metrics_;
  DownloadStage stage_;
  bool stopping_ = false;
};

}  // namespace exportd
