#include "auth/token_source.hpp"

#include "text/safe_text.hpp"

namespace exportd {

TokenSource::TokenSource(boost::asio::any_io_executor ex, Transport& transport, ApiEndpoint endpoint,
                         std::string app_id, std::string user_key, Millis refresh_after, EngineTime& time)
    : transport_(transport),
      endpoint_(std::move(endpoint)),
      app_id_(std::move(app_id)),
      user_key_(std::move(user_key)),
      policy_(refresh_after),
      time_(time),
      settled_(ex) {}

boost::asio::awaitable<ApiResult<std::string>> TokenSource::get() {
  for (;;) {
    if (!policy_.must_renew(time_.now())) co_return policy_.token();
    if (renewing_) {
      const auto seen = generation_;
      while (renewing_ && generation_ == seen) co_await settled_.wait();
      if (last_error_) co_return *last_error_;
      continue;
    }
    renewing_ = true;
    ++requests_;
    const ApiRequest request = token_request(endpoint_, app_id_, user_key_);
    auto reply = co_await transport_.exchange(request, {});
    // A refusal that quotes the request would carry the user key on into logs.
    if (reply && user_key_.size() >= min_secret_to_redact_in_bodies) redact(reply->body, user_key_);
    ApiResult<TokenReply> parsed = reply ? parse_token_reply(*reply, time_.wall_now()) : reply.error();
    renewing_ = false;
    ++generation_;
    if (parsed) {
      policy_.on_issued(std::move(parsed->token), time_.now());
      ++issued_;
      last_error_.reset();
    } else {
      last_error_ = parsed.error();
      redact(last_error_->message, user_key_);
      redact(last_error_->code, user_key_);
    }
    settled_.notify_all();
    if (last_error_) co_return *last_error_;
    co_return policy_.token();
  }
}

}  // namespace exportd
