#pragma once

// The jobs being delivered (SPEC §13): what each one's command is given,
// journaled (`delivering`) before its command first starts, so a restart
// delivers it again with the same values; how many runs it took; and what
// its result line adds. The command itself runs through a Deliverer.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "deliver/deliverer.hpp"
#include "engine/ledger.hpp"
#include "jobs/job_spec.hpp"
#include "ops/metrics.hpp"
#include "ops/results.hpp"

namespace exportd {

class Deliveries {
 public:
  Deliveries(Deliverer* deliverer, JobLedger& ledger) : deliverer_(deliverer), ledger_(ledger) {}

  bool on() const { return deliverer_ != nullptr; }
  // The job is done and about to be delivered: its values journaled first.
  boost::asio::awaitable<void> begin(std::uint32_t job, const std::string& batch, const std::string& key,
                                     DeliveryRecord record, std::chrono::system_clock::time_point now);
  // A job the journal had delivering: delivered again with the values it had.
  void recovered(std::uint32_t job, DeliveryRecord record) { active_[job] = {std::move(record), 0, {}}; }
  // One run of its command.
  boost::asio::awaitable<DeliveryEnd> run(std::uint32_t job, const JobSpec& spec, const std::string& batch,
                                          const std::string& project_id, Metrics& metrics,
                                          std::chrono::system_clock::time_point now);
  // What its result adds: delivered_at and the runs; a delivery_failed job keeps its file.
  void complete(std::uint32_t job, JobResult& result, std::chrono::system_clock::time_point now) const;
  void end(std::uint32_t job) { active_.erase(job); }
  std::size_t delivering() const { return active_.size(); }

 private:
  struct Active {
    DeliveryRecord record;
    std::uint32_t runs = 0;
    std::chrono::system_clock::time_point started{};
  };
  Deliverer* deliverer_;
  JobLedger& ledger_;
  std::unordered_map<std::uint32_t, Active> active_;
};

}  // namespace exportd
