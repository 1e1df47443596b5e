// Fuzz target: the API reply parsers (envelope, token, submit, progress,
// project list, Retry-After) on any bytes, with properties checked: nothing
// that comes out may hold control characters where it is logged, a token is
// always header-safe, progress is within 0..100, a link is one we may follow.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/json/parse.hpp>

#include "api/video_link.hpp"
#include "api/wire.hpp"
#include "text/safe_text.hpp"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void check_error(const exportd::ApiError& e) {
  require(exportd::is_utf8(e.code) && exportd::is_utf8(e.message));
  require(e.code.size() <= 4 * exportd::max_api_code_bytes);
  require(e.message.size() <= 4096);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace exportd;
  if (size < 1) return 0;
  static const int statuses[] = {200, 201, 400, 401, 403, 404, 408, 429, 500, 502, 503, 504};
  HttpReply reply;
  reply.status = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
  reply.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);
  if (size > 2 && data[1] == 'R') reply.retry_after = reply.body.substr(1, 40);

  if (auto env = parse_envelope(reply, now); !env) {
    check_error(env.error());
  } else {
    const auto& obj = env.value();
    for (const auto& p : read_project_list(obj)) require(!p.id.empty() && !exportd::has_control(p.id));
  }
  auto t = parse_token_reply(reply, now);
  if (auto* tok = t ? &*t : nullptr)
    require(is_token_text(tok->token, max_token_bytes));
  else
    check_error(t.error());
  auto s = parse_submit_reply(reply, now);
  if (auto* sub = s ? &*s : nullptr)
    require(!has_control(sub->project_id) && sub->project_id.size() <= max_id_bytes + 24);
  else
    check_error(s.error());
  auto p = parse_progress_reply(reply, now);
  if (auto* pr = p ? &*p : nullptr) {
    require(std::isfinite(pr->progress) && pr->progress >= 0 && pr->progress <= 100);
    require(pr->download_url.empty() || parse_video_url(pr->download_url).has_value());
  } else {
    check_error(p.error());
  }
  if (auto ra = parse_retry_after(reply.body.substr(0, 64), now))
    require(ra->count() >= 0 && ra->count() <= 86'400'000);
  return 0;
}
