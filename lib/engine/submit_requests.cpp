#include "engine/submit_requests.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "jobs/job_file.hpp"
#include "jobs/probe.hpp"

namespace exportd {

namespace asio = boost::asio;

asio::awaitable<ApiResult<ApiRequest>> SubmitRequests::make(const ApiEndpoint& endpoint, const JobSpec& spec,
                                                            const std::string& batch, std::string webhook_url) {
  auto order = export_order(spec);
  if (!webhook_url.empty()) order.webhook_url = std::move(webhook_url);
  if (spec.kind == JobKind::export_project) co_return export_request(endpoint, order);
  using Read = Result<boost::json::value>;
  auto read = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Read)>(
      [this](auto handler, std::string path) {
        asio::post(files_, [path = std::move(path), handler = std::move(handler)]() mutable {
          Read r = load_scenes(path);
          auto back = asio::get_associated_executor(handler);  // the event loop
          asio::post(back,
                     [handler = std::move(handler), r = std::move(r)]() mutable { std::move(handler)(std::move(r)); });
        });
      },
      asio::use_awaitable, spec.scenes_file);
  // The job's own input is at fault: it fails, nothing is sent.
  if (!read) co_return ApiError{Errc::invalid_input, 0, "scenes_file", read.error().message, {}};
  order.name = tagged_project_name(spec.name, batch, spec.key);
  co_return create_request(endpoint, order, *read);
}

}  // namespace exportd
