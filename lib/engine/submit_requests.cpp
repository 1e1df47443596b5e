#include "engine/submit_requests.hpp"

#include "jobs/create_lookup.hpp"
#include "jobs/placeholders.hpp"
#include "jobs/scenes.hpp"
#include "ops/off_loop.hpp"

namespace exportd {

boost::asio::awaitable<boost::system::result<ApiRequest, JobError>> SubmitRequests::make(const ApiEndpoint& endpoint, const JobSpec& spec,
                                                                   const std::string& batch, std::string webhook_url) {
  auto order = export_order(spec);
  if (!webhook_url.empty()) order.webhook_url = std::move(webhook_url);
  if (spec.kind == JobKind::export_project) co_return export_request(endpoint, order);
  order.name = tagged_project_name(spec.name, create_tag(batch, spec.key));
  // Read, parsed and made into the request's body on the file thread: a
  // large scenes file never holds up the event loop.
  // Named: g++ 12 destroys a lambda temporary inside co_await twice.
  auto build = [this, endpoint, order = std::move(order), path = spec.scenes_file, root = spec.scenes_root,
                rows = spec.rows, row = spec.row]() -> boost::system::result<ApiRequest, JobError> {
    if (rows) return from_template(endpoint, order, *rows, row);
    auto scenes = scenes_.read(path, root);
    // The job's own input is at fault: it fails, nothing is sent.
    if (!scenes) return JobError{Errc::invalid_input, "scenes_file", scenes.error().message};
    return create_request(endpoint, order, **scenes);
  };
  auto built = co_await off_loop(files_, std::move(build));
  co_return built;
}

boost::system::result<ApiRequest, JobError> SubmitRequests::from_template(const ApiEndpoint& endpoint,
                                                                         const ExportOrder& order,
                                                                         const TemplateRows& rows, std::size_t row) {
  const auto& path = rows.template_file;
  // A template changed since the batch was taken in is read and checked
  // again (load_scenes); one that now names a column the rows lack fails
  // its job alone, as a scenes file gone bad does.
  auto scenes = templates_.read(path, rows.template_root);
  if (!scenes) return JobError{Errc::invalid_input, "template", scenes.error().message};
  std::string missing;
  auto filled = fill_template(**scenes, [&](std::string_view name) -> std::optional<std::string_view> {
    auto v = rows.value(row, name);
    if (!v && missing.empty()) missing = name;
    return v;
  });
  if (!filled)
    return JobError{Errc::invalid_input, "template",
                    "template " + path + ": {{" + missing + "}} names no column of " + rows.rows_file};
  return create_request(endpoint, order, *filled);
}

}  // namespace exportd
