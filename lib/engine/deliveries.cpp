#include "engine/deliveries.hpp"

#include <filesystem>

namespace exportd {

boost::asio::awaitable<void> Deliveries::begin(std::uint32_t job, const std::string& batch, const std::string& key,
                                               DeliveryRecord record, std::chrono::system_clock::time_point now) {
  co_await ledger_.delivering(batch, key, record);
  active_[job] = {std::move(record), 0, now};
}

boost::asio::awaitable<DeliveryEnd> Deliveries::run(std::uint32_t job, const JobSpec& spec, const std::string& batch,
                                                    const std::string& project_id, Metrics& metrics,
                                                    std::chrono::system_clock::time_point now) {
  auto& a = active_[job];
  ++a.runs;
  DeliveryValues v;
  v.file_path = a.record.file;
  v.download_url = a.record.url;
  const auto hash = spec.key.find('#');
  const auto file_name = spec.key.substr(0, hash);
  v.file = std::filesystem::path(file_name).stem().string();
  v.id = hash == std::string::npos ? spec.key : spec.key.substr(hash + 1);
  v.project_id = project_id;
  v.sha256 = a.record.sha256;
  v.bytes = a.record.file.empty() ? std::string() : std::to_string(a.record.bytes);
  v.delivery_id = batch + "/" + spec.key;  // the same on every run and after a restart
  const auto started = std::chrono::steady_clock::now();
  auto end = co_await deliverer_->deliver(v);
  metrics.delivery(end.how == DeliveryEnd::How::delivered   ? "delivered"
                   : end.how == DeliveryEnd::How::timed_out ? "timed_out"
                                                            : "failed",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  (void)now;
  co_return end;
}

void Deliveries::complete(std::uint32_t job, JobResult& result, std::chrono::system_clock::time_point now) const {
  const auto it = active_.find(job);
  if (it == active_.end()) return;
  const auto& a = it->second;
  result.deliveries = a.runs;
  if (a.started != std::chrono::system_clock::time_point{}) result.delivering_at = a.started;
  if (result.download_url.empty()) result.download_url = a.record.url;
  if (!a.record.file.empty() && !result.video)  // delivered, or delivery_failed: the file is kept, and named
    result.video = JobResult::Video{a.record.file, a.record.bytes, a.record.sha256};
  if (result.status == JobOutcome::succeeded) result.delivered_at = now;
}

}  // namespace exportd
