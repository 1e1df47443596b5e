#include "schedule/circuit_breaker.hpp"

namespace exportd {

CircuitBreaker::Admission CircuitBreaker::admit(TimePoint now) {
  if (!open_) return {Verdict::go, now};
  if (probing_ || now < retry_at_) return {Verdict::wait, retry_at_};
  probing_ = true;
  return {Verdict::probe, now};
}

void CircuitBreaker::on_success() {
  consecutive_ = 0;
  open_ = false;
  probing_ = false;
  failed_probes_ = 0;
}

void CircuitBreaker::reopen(TimePoint now) {
  ++failed_probes_;
  retry_at_ = now + backoff_.ceiling(failed_probes_);
}

void CircuitBreaker::on_failure(TimePoint now) {
  if (!open_) {
    if (++consecutive_ < trip_after_) return;
    open_ = true;
    open_since_ = now;
    failed_probes_ = 0;
    reopen(now);
    return;
  }
  if (!probing_) return;  // a call sent before it opened: the probe decides
  probing_ = false;
  reopen(now);
}

void CircuitBreaker::hold(TimePoint now) {
  if (!open_) {
    open_ = true;
    open_since_ = now;
    failed_probes_ = 0;
  }
  probing_ = false;
  reopen(now);
}

}  // namespace exportd
