#pragma once

// What the engine hands a finished job's video on through (SPEC §13): the
// operator's command (CommandDeliverer), or a scripted fake in tests.

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "config/settings.hpp"
#include "deliver/child_process.hpp"
#include "jobs/export_job.hpp"
#include "ops/delivery_command.hpp"
#include "ops/log.hpp"

namespace exportd {

class Deliverer {
 public:
  virtual ~Deliverer() = default;
  // One run of the delivery for `values`. Returns when it has ended (a
  // stop ends it too; the engine then leaves the job delivering).
  virtual boost::asio::awaitable<DeliveryEnd> deliver(const DeliveryValues& values) = 0;
};

// deliver.command run as a child process: the argv and the clean
// environment of ops/delivery_command.hpp, deliver.timeout, its output's
// end in the log (and, on failure, in the job's error).
class CommandDeliverer final : public Deliverer {
 public:
  CommandDeliverer(Children& children, DeliverySettings settings, Logger& log)
      : children_(children), settings_(std::move(settings)), log_(log) {}
  boost::asio::awaitable<DeliveryEnd> deliver(const DeliveryValues& values) override;

 private:
  Children& children_;
  DeliverySettings settings_;
  Logger& log_;
};

// The daemon's delivery part: its commands' process groups and the deliverer over them.
class CommandDelivery {
 public:
  CommandDelivery(boost::asio::any_io_executor ex, const DeliverySettings& settings, Logger& log)
      : children_(std::move(ex)), deliverer_(children_, settings, log) {}
  Deliverer& deliverer() { return deliverer_; }
  // exportd stops: every command still running is killed with its group
  // (its job stays delivering in the journal and is delivered again at the next start).
  void stop() { children_.kill_all(); }
  std::size_t running() const { return children_.running(); }

 private:
  Children children_;
  CommandDeliverer deliverer_;
};

// What a child's end says as a delivery's (exit 0 delivered; a timeout; anything else failed).
DeliveryEnd delivery_end(const ChildEnd& end, const DeliverySettings& settings);

}  // namespace exportd
