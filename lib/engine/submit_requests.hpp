#pragma once

// The request that sends a job's export: the export call, or the create
// call with the job's scenes file, which (up to 8 MiB) is read, parsed and
// made into the request on a file thread of its own, never on the event
// loop, and parsed once for the many jobs that name one unchanged file. A
// template job's body is built from its template (parsed once) and its row
// as it is sent, so a batch of 100,000 rows holds one template, not 100,000 bodies.

#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "api/wire.hpp"
#include "jobs/scenes.hpp"
#include "jobs/job_spec.hpp"

namespace exportd {

class SubmitRequests {
 public:
  SubmitRequests() = default;
  SubmitRequests(const SubmitRequests&) = delete;
  SubmitRequests& operator=(const SubmitRequests&) = delete;
  ~SubmitRequests() { files_.join(); }

  // `webhook_url`: what the API is told (the job's own, or our receiver's).
  // An error: the job's own input is at fault (its scenes file); nothing is to be sent.
  boost::asio::awaitable<boost::system::result<ApiRequest, JobError>> make(const ApiEndpoint& endpoint, const JobSpec& spec,
                                                     const std::string& batch, std::string webhook_url);

 private:
  boost::system::result<ApiRequest, JobError> from_template(const ApiEndpoint& endpoint, const ExportOrder& order,
                                                            const TemplateRows& rows, std::size_t row);

  ScenesCache scenes_;       // touched on the file thread only
  TemplateCache templates_;  // the same
  boost::asio::thread_pool files_{1};
};

}  // namespace exportd
