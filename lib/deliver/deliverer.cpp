#include "deliver/deliverer.hpp"

#include <cstdlib>

#include "text/safe_text.hpp"
#include "time/duration.hpp"

namespace exportd {

DeliveryEnd delivery_end(const ChildEnd& end, const DeliverySettings& settings) {
  const auto said = end.output.empty() ? std::string() : "; its output ends: " + bounded_text(end.output, child_output_kept);
  switch (end.how) {
    case ChildEnd::How::exited:
      if (end.code == 0) return {DeliveryEnd::How::delivered, ""};
      return {DeliveryEnd::How::failed, "exit " + std::to_string(end.code) + said};
    case ChildEnd::How::signalled:
      return {DeliveryEnd::How::failed, "killed by signal " + std::to_string(end.code) + said};
    case ChildEnd::How::timed_out:
      return {DeliveryEnd::How::timed_out, "still running after " + format_duration(settings.timeout) + said};
    case ChildEnd::How::not_started:
      return {DeliveryEnd::How::failed, "not started: " + end.why};
    case ChildEnd::How::stopped:
      break;
  }
  return {DeliveryEnd::How::failed, "stopped with exportd"};
}

boost::asio::awaitable<DeliveryEnd> CommandDeliverer::deliver(const DeliveryValues& values) {
  const auto lookup = [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  auto argv = delivery_argv(settings_.command, values);
  auto env = delivery_env(values, settings_.env, lookup);
  const auto end = co_await children_.run(std::move(argv), std::move(env), settings_.timeout);
  auto out = delivery_end(end, settings_);
  if (!end.output.empty())
    log_.debug("delivery_output", {{"delivery", values.delivery_id}, {"output", bounded_text(end.output, 1024)}});
  co_return out;
}

}  // namespace exportd
