#pragma once

// The AI Studios wire format (SPEC §1) as pure code: requests as values,
// replies turned into typed results or classified errors. No I/O here.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include "api/endpoint.hpp"
#include "error/error.hpp"
#include "time/duration.hpp"

namespace exportd {

enum class ApiCall : std::uint8_t {
  token,           // POST /auth/token
  export_project,  // POST /editor/project/export
  create_project,  // POST /editor/project
  progress,        // GET /editor/progress/{id}
  get_project,     // GET /editor/project/{id}
  list_projects,   // GET /editor/project
};
std::string_view to_string(ApiCall c);

struct ApiRequest {
  ApiCall call = ApiCall::progress;
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;      // path and query, base path included
  std::string body;        // JSON, empty for GET
  bool authorized = true;  // carries the token
};

ApiRequest token_request(const ApiEndpoint& ep, std::string_view app_id, std::string_view user_key);
// What an export or create request carries (empty fields are left out).
struct ExportOrder {
  std::string project_id;   // export: the project
  std::string name;         // create: the project's name
  std::string orientation;  // create: landscape | portrait
  std::string resolution;
  std::string workspace_id;
  std::string webhook_url;
};

ApiRequest export_request(const ApiEndpoint& ep, const ExportOrder& order);
ApiRequest create_request(const ApiEndpoint& ep, const ExportOrder& order, const boost::json::value& scenes);
// A JSON value as Boost.JSON serialized it: a scenes array parsed and
// checked once, then sent by many creates without being held parsed.
struct SerializedJson {
  std::string text;
};
ApiRequest create_request(const ApiEndpoint& ep, const ExportOrder& order, const SerializedJson& scenes);
ApiRequest progress_request(const ApiEndpoint& ep, std::string_view project_id);
// Which page of the project list to ask for: nothing (the list as it comes),
// a page number and size (sent as ?page=&size=), or a path the previous
// reply named as its next page.
struct ListQuery {
  std::uint64_t page = 0;   // 0: not sent
  std::uint64_t size = 0;   // 0: not sent
  std::string next_target;  // a path under the list's own, from a reply's `next`; sent as it is
  bool operator==(const ListQuery&) const = default;
};
ApiRequest list_projects_request(const ApiEndpoint& ep, const ListQuery& query = {});

// What the transport hands back: the status and the few headers that matter.
struct HttpReply {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, verbatim
};

// A failed call as a value. `code` and `message` are the API's when it gave
// them, otherwise ours (e.g. "http_503", "transport").
struct ApiError {
  Errc kind = Errc::transport;
  int http_status = 0;
  std::string code;
  std::string message;
  std::optional<Millis> retry_after;
  // The request may have reached the API and taken effect (no reply, a
  // timeout after sending, 502/504): a submit is verified, not resent.
  bool maybe_processed = false;
  // Set by the exporter: the API is unreachable and the breaker is open, so
  // this failure is not held against the job.
  bool api_down = false;

  boost::system::error_code error_code() const { return make_error_code(kind); }
  friend bool operator==(const ApiError&, const ApiError&) = default;
};
std::ostream& operator<<(std::ostream& os, const ApiError& e);  // tests print results
// An API reply's failure as the job is left with it.
inline JobError job_error(const ApiError& e) { return {e.kind, e.code, e.message, e.http_status}; }

// What an API call (or a step of one) gives back: the value, or why not.
template <class T>
using ApiResult = boost::system::result<T, ApiError>;
[[noreturn]] void throw_exception_from_error(const ApiError& e, const boost::source_location& where);

// Whether a body that is not JSON is quoted (an excerpt) in the error, or
// only measured: a token reply's body may hold the token.
enum class BodyQuote : std::uint8_t {
  excerpt,   // quote the start of the body, cleaned
  withhold,  // say its size only
};

// Parses the success/data/error envelope. Any HTTP status, body or type
// mismatch ends as either the `data` object or a classified ApiError.
ApiResult<boost::json::object> parse_envelope(const HttpReply& reply, std::chrono::system_clock::time_point now,
                                              BodyQuote quote = BodyQuote::excerpt);

struct TokenReply {
  std::string token;
};
struct SubmitReply {
  std::string project_id;  // the id to poll (the API may return a new one); empty: accepted without a usable id
};

// What a create call whose project id is not known may have done at the API
// (creates are not idempotent: a second one is a second project).
enum class CreateReach : std::uint8_t {
  none,      // never sent, or answered in a way that says it was not processed: it may be sent
  maybe,     // sent, and no answer says it was not processed: looked up by its tag before another is sent
  accepted,  // the API accepted it without a usable id: looked up, never sent again
};
std::string_view to_string(CreateReach r);
std::optional<CreateReach> create_reach_from(std::string_view text);
struct ProgressReply {
  double progress = 0;       // 0..100
  std::string download_url;  // from downloadUrl or download_url
  std::string state;         // undocumented; "failed"-like values end the job
  bool failed_state() const;
};

// A listed project's state, read where the list is parsed.
enum class ListedState : std::uint8_t {
  exported,  // "exported": its video is ready (SPEC §1)
  other,     // any other value, or none (undocumented)
};

struct ProjectListing {
  std::string id;
  std::string name;
  ListedState state = ListedState::other;
};

// What a list reply says of its paging. Undocumented, so what it carries is
// taken: the common spellings of a total, a page number and size, and a next page.
struct ListPaging {
  std::optional<std::uint64_t> total;  // data.total, totalCount, total_count, totalElements
  std::optional<std::uint64_t> page;   // data.page, currentPage, pageNumber
  std::optional<std::uint64_t> size;   // data.size, pageSize, limit, perPage
  std::optional<std::uint64_t> next_page;  // data.next (or nextPage) as a number
  std::string next_target;  // data.next (or nextPage) as a path or URL under the list's own path; else empty
  std::optional<bool> more;  // data.hasNext, hasMore, has_more; data.last (negated)
};
struct ProjectListPage {
  std::vector<ProjectListing> items;
  ListPaging paging;
  bool readable = false;  // the items were under a key exportd reads, as an array (possibly empty)
};

// The typed readers of a reply's `data` object (after parse_envelope).
// The project list's shape is undocumented: items are looked for under
// data.items, data.projects, data.list or data.content.
std::vector<ProjectListing> read_project_list(const boost::json::object& data);
// The items and the paging of one reply. `list_path` is the list's path as
// requested (base path included): a next page elsewhere is not followed.
ProjectListPage read_project_list_page(const boost::json::object& data, std::string_view list_path);
ApiResult<TokenReply> read_token(const boost::json::object& data);
ApiResult<SubmitReply> read_submit(const boost::json::object& data);
ApiResult<ProgressReply> read_progress(const boost::json::object& data);

// Envelope and reader in one step.
ApiResult<TokenReply> parse_token_reply(const HttpReply& reply, std::chrono::system_clock::time_point now);
ApiResult<SubmitReply> parse_submit_reply(const HttpReply& reply, std::chrono::system_clock::time_point now);
ApiResult<ProgressReply> parse_progress_reply(const HttpReply& reply, std::chrono::system_clock::time_point now);

// data.progress parsed strictly: a finite number from 0 to 100, or a string
// that is one in plain decimal. Nothing otherwise ("NaN", "100abc", 150).
std::optional<double> parse_progress_value(const boost::json::value& v);

// Retry-After as delta-seconds or an HTTP date; nothing if unreadable.
std::optional<Millis> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace exportd
