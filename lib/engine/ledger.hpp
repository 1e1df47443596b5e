#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "ops/results.hpp"

namespace exportd {

// Where the exporter writes down what it knows before it acts on it. Each
// call returns once the fact is durable; the exporter waits for it.
class JobLedger {
 public:
  virtual ~JobLedger() = default;
  // Before an export or create request is sent.
  virtual boost::asio::awaitable<void> submit_started(const std::string& batch, const std::string& job) = 0;
  // After the API accepted it, before its polls are scheduled.
  virtual boost::asio::awaitable<void> submitted(const std::string& batch, const std::string& job,
                                                 const std::string& project,
                                                 std::chrono::system_clock::time_point at) = 0;
  // A job ended: record it and append its results.jsonl line.
  virtual boost::asio::awaitable<void> ended(const std::string& batch, const JobResult& result) = 0;
  // Every job of the batch handed to the exporter has ended. (How the batch
  // went is the ledger's to judge: it also knows the jobs that ended before a restart.)
  virtual boost::asio::awaitable<void> batch_ended(const std::string& batch) = 0;
};

}  // namespace exportd
