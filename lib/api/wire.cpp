#include "api/wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <ostream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "api/video_link.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace http = boost::beast::http;
namespace json = boost::json;

std::string_view to_string(ApiCall c) {
  switch (c) {
    case ApiCall::token:
      return "token";
    case ApiCall::export_project:
      return "export";
    case ApiCall::create_project:
      return "create";
    case ApiCall::progress:
      return "progress";
    case ApiCall::get_project:
      return "get_project";
    case ApiCall::list_projects:
      return "list_projects";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const ApiError& e) {
  return os << to_string(e.kind) << " " << e.code << ": " << e.message;
}

void throw_exception_from_error(const ApiError& e, const boost::source_location& where) {
  boost::throw_exception(boost::system::system_error(e.error_code(), e.code + ": " + e.message), where);
}

namespace {

constexpr std::string_view api_prefix = "/api/odin/v3";

ApiRequest post(const ApiEndpoint& ep, ApiCall call, std::string_view path, const json::object& body, bool auth) {
  return {call, http::verb::post, ep.target(std::string(api_prefix) + std::string(path)), json::serialize(body), auth};
}

void put_optional(json::object& o, std::string_view key, const std::string& value) {
  if (!value.empty()) o[key] = value;
}

std::string path_segment(std::string_view s) { return boost::urls::encode(s, boost::urls::unreserved_chars); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// An error code as text: a string (bounded, made safe) or an integer. A
// fraction or a number past 64 bits is no code we can quote faithfully.
std::string code_text(const json::value& v) {
  if (v.is_string()) return bounded_text(v.as_string(), max_api_code_bytes);
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  return "";
}

// A project id as the API gave it: a non-empty string of visible characters,
// or an integer. Anything else (a fraction, a number past 64 bits, control
// characters, an id too long to be one) is no usable id: empty.
std::string id_text(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (!v.is_string()) return "";
  const std::string_view s = v.as_string();
  if (s.empty() || s.size() > max_id_bytes || has_control(s) || !is_utf8(s)) return "";
  if (s.find_first_not_of(' ') == std::string_view::npos) return "";
  return std::string(s);
}

// The API does not document how it reports an expired token with HTTP 200;
// these words in the error code or message are taken to mean "renew and retry".
bool looks_like_auth_error(const std::string& code, const std::string& message) {
  const std::string c = lower(code), m = lower(message);
  for (std::string_view w : {"token", "auth", "expired", "unauthori", "401", "403"})
    if (c.find(w) != std::string::npos || m.find(w) != std::string::npos) return true;
  return false;
}

std::string excerpt(std::string_view body) { return bounded_text(body.substr(0, 80), 80); }

ApiError malformed(int status, std::string why) {
  return {Errc::malformed, status, "bad_reply", std::move(why), std::nullopt};
}

}  // namespace

ApiRequest token_request(const ApiEndpoint& ep, std::string_view app_id, std::string_view user_key) {
  json::object body{{"appId", app_id}, {"userKey", user_key}};
  return post(ep, ApiCall::token, "/auth/token", body, false);
}

ApiRequest export_request(const ApiEndpoint& ep, const ExportOrder& job) {
  json::object body{{"projectId", job.project_id}};
  put_optional(body, "workspaceId", job.workspace_id);
  put_optional(body, "resolution", job.resolution);
  put_optional(body, "webhookUrl", job.webhook_url);
  return post(ep, ApiCall::export_project, "/editor/project/export", body, true);
}

ApiRequest create_request(const ApiEndpoint& ep, const ExportOrder& job, const json::value& scenes) {
  return create_request(ep, job, SerializedJson{json::serialize(scenes)});
}

ApiRequest create_request(const ApiEndpoint& ep, const ExportOrder& job, const SerializedJson& scenes) {
  json::object rest{{"isExport", true}};
  put_optional(rest, "name", job.name);
  put_optional(rest, "orientation", job.orientation);
  put_optional(rest, "workspaceId", job.workspace_id);
  put_optional(rest, "resolution", job.resolution);
  put_optional(rest, "webhookUrl", job.webhook_url);
  // {"scenes":<scenes>,"isExport":true,...}: both parts serialized by Boost.JSON, joined.
  auto request = post(ep, ApiCall::create_project, "/editor/project", rest, true);
  request.body = R"({"scenes":)" + scenes.text + "," + request.body.substr(1);
  return request;
}

ApiRequest progress_request(const ApiEndpoint& ep, std::string_view project_id) {
  return {ApiCall::progress, http::verb::get,
          ep.target(std::string(api_prefix) + "/editor/progress/" + path_segment(project_id)), "", true};
}

ApiRequest list_projects_request(const ApiEndpoint& ep, const ListQuery& query) {
  ApiRequest r{ApiCall::list_projects, http::verb::get, ep.target(std::string(api_prefix) + "/editor/project"), "",
               true};
  if (!query.next_target.empty()) {
    r.target = query.next_target;
  } else if (query.page > 0 || query.size > 0) {
    char sep = '?';
    if (query.page > 0) {
      r.target += sep + std::string("page=") + std::to_string(query.page);
      sep = '&';
    }
    if (query.size > 0) r.target += sep + std::string("size=") + std::to_string(query.size);
  }
  return r;
}

std::string_view to_string(CreateReach r) {
  switch (r) {
    case CreateReach::none:
      return "none";
    case CreateReach::maybe:
      return "maybe";
    case CreateReach::accepted:
      return "accepted";
  }
  return "?";
}

std::optional<CreateReach> create_reach_from(std::string_view text) {
  for (auto r : {CreateReach::none, CreateReach::maybe, CreateReach::accepted})
    if (to_string(r) == text) return r;
  return std::nullopt;
}

namespace {

// The items of a list reply, or nothing when no key exportd reads holds an array.
std::optional<std::vector<ProjectListing>> list_items(const json::object& data) {
  for (std::string_view key : {"items", "projects", "list", "content"}) {
    const auto* items = data.if_contains(key);
    if (items == nullptr || !items->is_array()) continue;
    std::vector<ProjectListing> out;
    for (const auto& item : items->as_array()) {
      if (!item.is_object()) continue;
      const auto& o = item.as_object();
      ProjectListing p;
      for (std::string_view id_key : {"id", "_id", "projectId"})
        if (const auto* v = o.if_contains(id_key); v != nullptr && p.id.empty()) p.id = id_text(*v);
      if (const auto* v = o.if_contains("name"); v != nullptr && v->is_string()) p.name = to_utf8(v->as_string());
      if (const auto* v = o.if_contains("state"); v != nullptr && v->is_string() && lower(v->as_string()) == "exported")
        p.state = ListedState::exported;
      if (!p.id.empty()) out.push_back(std::move(p));
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::vector<ProjectListing> read_project_list(const json::object& data) {
  return list_items(data).value_or(std::vector<ProjectListing>{});
}

namespace {

std::optional<std::uint64_t> count_in(const json::object& o, std::initializer_list<std::string_view> keys) {
  for (auto key : keys) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) continue;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
    if (v->is_string() && !v->as_string().empty() && v->as_string().size() <= 19) {
      std::uint64_t n = 0;
      const auto& t = v->as_string();
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
      if (ec == std::errc{} && end == t.data() + t.size()) return n;
    }
  }
  return std::nullopt;
}

// A next page named by path or URL, kept only when it is the list's own
// path (with a query): never a request elsewhere, on a reply's word.
std::string next_target_of(std::string_view next, std::string_view list_path) {
  if (next.size() > 2048 || !is_token_text(next, 2048)) return {};
  if (const auto scheme = next.find("://"); scheme != std::string_view::npos) {
    const auto path = next.find('/', scheme + 3);  // an absolute URL: its path, if it is the list's
    if (path == std::string_view::npos) return {};
    next.remove_prefix(path);
  }
  if (next.starts_with('?')) return std::string(list_path) + std::string(next);
  if (!next.starts_with(list_path)) return {};
  const auto rest = next.substr(list_path.size());
  if (!rest.empty() && rest.front() != '?') return {};
  return std::string(next);
}

}  // namespace

ProjectListPage read_project_list_page(const json::object& data, std::string_view list_path) {
  auto items = list_items(data);
  ProjectListPage out{items.value_or(std::vector<ProjectListing>{}), {}, items.has_value()};
  auto& p = out.paging;
  p.total = count_in(data, {"total", "totalCount", "total_count", "totalElements"});
  p.page = count_in(data, {"page", "currentPage", "pageNumber"});
  p.size = count_in(data, {"size", "pageSize", "limit", "perPage"});
  for (std::string_view key : {"next", "nextPage", "next_page"}) {
    const auto* v = data.if_contains(key);
    if (v == nullptr || v->is_null()) continue;
    if (v->is_string()) {
      if (auto n = count_in(data, {key})) p.next_page = n;
      else p.next_target = next_target_of(v->as_string(), list_path);
    } else if (auto n = count_in(data, {key})) {
      p.next_page = n;
    }
    break;
  }
  for (std::string_view key : {"hasNext", "hasMore", "has_more"})
    if (const auto* v = data.if_contains(key); v != nullptr && v->is_bool() && !p.more) p.more = v->as_bool();
  if (const auto* v = data.if_contains("last"); v != nullptr && v->is_bool() && !p.more) p.more = !v->as_bool();
  return out;
}

std::optional<Millis> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  std::uint64_t secs = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
  if (ec == std::errc{} && end == value.data() + value.size()) {
    return Millis(static_cast<Millis::rep>(std::min<std::uint64_t>(secs, 86400) * 1000));
  }
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT" (RFC 9110 §5.6.7).
  std::tm tm{};
  const std::string text(value);
  const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (when <= now) return Millis(0);
  return std::min<Millis>(std::chrono::duration_cast<Millis>(when - now), Millis(86'400'000));
}

ApiResult<json::object> parse_envelope(const HttpReply& reply, std::chrono::system_clock::time_point now,
                                       BodyQuote quote) {
  const int status = reply.status;
  const auto retry_after = parse_retry_after(reply.retry_after, now);
  json::value doc;
  boost::system::error_code ec;
  doc = json::parse(reply.body, ec);
  const json::object* env = (!ec && doc.is_object()) ? &doc.as_object() : nullptr;

  std::string code, message;
  if (env != nullptr) {
    if (const auto* err = env->if_contains("error"); err != nullptr && err->is_object()) {
      if (const auto* c = err->as_object().if_contains("code")) code = code_text(*c);
      if (const auto* m = err->as_object().if_contains("msg"); m != nullptr && m->is_string())
        message = bounded_text(m->as_string(), max_api_message_bytes);
    }
  }

  if (status == 401 || status == 403)
    return ApiError{Errc::unauthorized, status, code.empty() ? "http_" + std::to_string(status) : code,
                    message.empty() ? "the API refused the token" : message, retry_after};
  if (status == 408 || status == 429 || status >= 500) {
    ApiError e{Errc::overloaded, status, "http_" + std::to_string(status),
               message.empty() ? "the API answered HTTP " + std::to_string(status) : message, retry_after};
    e.maybe_processed = status == 502 || status == 504;  // a gateway lost the upstream's answer
    return e;
  }
  if (env == nullptr) {
    if (quote == BodyQuote::withhold)
      return malformed(status, "HTTP " + std::to_string(status) + " reply that is not the JSON envelope (" +
                                   std::to_string(reply.body.size()) + " bytes, not quoted: it may hold a secret)");
    return malformed(
        status, "HTTP " + std::to_string(status) + " with a body that is not JSON: \"" + excerpt(reply.body) + "\"");
  }
  const auto* success = env->if_contains("success");
  if (success == nullptr || !success->is_bool())
    return malformed(status, "HTTP " + std::to_string(status) + " reply without a boolean 'success'");
  if (success->as_bool()) {
    if (status < 200 || status >= 300)
      return malformed(status, "HTTP " + std::to_string(status) + " with success:true");
    const auto* data = env->if_contains("data");
    if (data == nullptr || !data->is_object()) return malformed(status, "success:true reply without a 'data' object");
    return data->as_object();
  }
  if (code.empty() && message.empty()) return malformed(status, "success:false reply without error.code or error.msg");
  const Errc kind = looks_like_auth_error(code, message) ? Errc::unauthorized : Errc::rejected;
  return ApiError{kind, status, code.empty() ? "unknown" : code, message, retry_after};
}

ApiResult<TokenReply> read_token(const json::object& data) {
  const auto* t = data.if_contains("token");
  if (t == nullptr || !t->is_string() || t->as_string().empty())
    return malformed(200, "token reply without data.token");
  // The token goes into the Authorization header: it must be a header value
  // as it stands. Neither it nor a piece of it is quoted.
  if (!is_token_text(t->as_string(), max_token_bytes))
    return malformed(200, "the API issued a token that cannot be sent as a header (" +
                              std::to_string(t->as_string().size()) + " bytes; up to " +
                              std::to_string(max_token_bytes) + " visible ASCII characters are taken)");
  return TokenReply{std::string(t->as_string())};
}

ApiResult<SubmitReply> read_submit(const json::object& data) {
  // success:true means the export was accepted: it is never sent again, so
  // an id missing or unusable is handed on empty for the job to decide.
  const auto* id = data.if_contains("projectId");
  return SubmitReply{id == nullptr ? std::string() : id_text(*id)};
}

bool ProgressReply::failed_state() const {
  const std::string s = lower(state);
  return s == "failed" || s == "fail" || s == "error" || s == "cancelled" || s == "canceled";
}

std::optional<double> parse_progress_value(const json::value& v) {
  double p = 0;
  if (v.is_number()) {
    p = v.to_number<double>();
  } else if (v.is_string()) {
    // The whole string, a plain decimal: no "100abc", no spaces, no "inf" or "NaN".
    const std::string_view s = v.as_string();
    if (s.empty() || s.size() > 32 || s.find_first_not_of("0123456789.-+eE") != std::string_view::npos)
      return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), p);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(p) || p < 0.0 || p > 100.0) return std::nullopt;
  return p;
}

ApiResult<ProgressReply> read_progress(const json::object& data) {
  ProgressReply out;
  const auto* p = data.if_contains("progress");
  if (p == nullptr) return malformed(200, "progress reply without data.progress");
  const auto value = parse_progress_value(*p);
  if (!value) return malformed(200, "data.progress is not a number from 0 to 100");
  out.progress = *value;
  for (std::string_view key : {"downloadUrl", "download_url"}) {
    if (const auto* u = data.if_contains(key); u != nullptr && u->is_string() && !u->as_string().empty()) {
      // The fetch's own rule: a link it would refuse fails the reply here,
      // where the API is asked again, not at the download.
      if (auto link = parse_video_url(u->as_string()); !link)
        return malformed(200, "data." + std::string(key) + " cannot be downloaded (" + link.error().message +
                                  "): \"" + bounded_text(u->as_string(), 120) + "\"");
      out.download_url = std::string(u->as_string());
      break;
    }
  }
  if (const auto* s = data.if_contains("state"); s != nullptr) out.state = code_text(*s);
  return out;
}

namespace {

template <class Reply, class Reader>
ApiResult<Reply> parse_with(const HttpReply& reply, std::chrono::system_clock::time_point now, Reader read,
                            BodyQuote quote = BodyQuote::excerpt) {
  auto env = parse_envelope(reply, now, quote);
  if (!env) return env.error();
  return read(*env);
}

}  // namespace

ApiResult<TokenReply> parse_token_reply(const HttpReply& reply, std::chrono::system_clock::time_point now) {
  // A token reply that is not the envelope may still hold the token: say
  // what was wrong, never what it held.
  auto out = parse_with<TokenReply>(reply, now, read_token, BodyQuote::withhold);
  if (out) return out;
  // Refusal at the token call is about appId/userKey, never a stale token.
  ApiError e = out.error();
  if (e.kind == Errc::unauthorized || e.kind == Errc::rejected) e.kind = Errc::credentials;
  return e;
}

ApiResult<SubmitReply> parse_submit_reply(const HttpReply& reply, std::chrono::system_clock::time_point now) {
  return parse_with<SubmitReply>(reply, now, read_submit);
}

ApiResult<ProgressReply> parse_progress_reply(const HttpReply& reply, std::chrono::system_clock::time_point now) {
  return parse_with<ProgressReply>(reply, now, read_progress);
}

}  // namespace exportd
