#pragma once

// An AI Studios API simulator (SPEC §1 and §7): a single-threaded Beast
// server, HTTP or HTTPS, with knobs for export duration, token lifetime,
// faults and latency. Used by the demo, the integration tests and the
// benchmarks; never by production code.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "progress_shapes.hpp"

namespace exportd::sim {

using Millis = std::chrono::milliseconds;

struct Knobs {
  std::string app_id = "demo-app";
  std::string user_key = "demo-key";
  Millis export_min{2000};  // each export takes a uniform time in [min, max]
  Millis export_max{5000};
  Shape shape = Shape::linear;       // how progress moves (SPEC §8); parameters drawn per export
  double progress_resolution = 0.1;  // progress is reported floored to this (0.1 or 1)
  Millis token_lifetime{24 * 3600 * 1000};
  Millis latency{0};        // added before every reply
  double rate_5xx = 0;      // share of API calls answered 503
  double rate_429 = 0;      // share answered 429 with Retry-After: 1
  double rate_drop = 0;     // share whose connection is closed without a reply
  double rate_html = 0;     // share answered 200 with an HTML page
  double rate_drop_after = 0;  // share processed, then the connection closed before the reply
  double rate_slow = 0;     // share answered only after `slow`
  Millis slow{0};
  double retry_after_date_share = 0;  // share of 429s whose Retry-After is an HTTP date, not seconds
  std::uint32_t rate_limit = 0;       // API calls per second beyond which it answers 429 (0 = none)
  Millis outage_for{0};     // from start: every connection is closed unanswered
  bool new_id_on_export = false;  // export answers a fresh projectId to poll
  bool expired_as_200 = false;    // expired token: HTTP 200 success:false instead of 401
  std::string unknown_prefix = "missing-";  // project ids starting so are unknown
  double alt_url_field_rate = 0.5;          // share of projects answering download_url, not downloadUrl
  std::uint64_t seed = 1;

  // Hostile mode: replies that are valid HTTP but odd, huge or malicious.
  std::size_t token_length = 40;      // characters of a fresh token
  std::string token_extra;            // spliced into every fresh token (e.g. "\r\nX-Injected: 1")
  std::string token_body;             // token reply body verbatim, "{token}" replaced by the fresh token
  std::string submit_data;            // export/create reply `data` verbatim (the export still starts)
  std::string progress_value;         // a JSON value served as data.progress instead of the real one
  std::string download_url;           // served at 100 % instead of the simulator's https link
  std::size_t error_message_bytes = 0;  // error messages padded to this size
  std::string message_prefix;         // put before every error message (e.g. terminal escapes)
  bool echo_body_in_errors = false;   // error messages quote the request body (credentials included)
  bool drop_exports = false;          // export/create requests read, never processed, connection closed
  std::size_t list_page = 0;          // the project list shows only the newest this many (0: all)
  // With list_page: the list is paged, as many real APIs are: ?page=N (from
  // 1) and ?size=M (at most list_page) are honoured, and each reply carries
  // total, page and size. Without it, only the first page is ever shown.
  bool list_paged = false;

  // Creates (they are not idempotent: each one makes a project). What real
  // APIs were seen to do to names, lists and create replies.
  std::string list_items_key = "items";  // the key the list's items are under ("rows": one exportd does not read)
  bool list_refused = false;             // list calls answered 404 with the error envelope
  bool list_oldest_first = false;        // oldest first: a new project is on the last page
  Millis list_lag{0};                    // a new project shows in the list only this long after it was made
  std::size_t seed_projects = 0;         // projects that exist from the start (others' work), listed too
  bool name_html_escaped = false;        // names stored HTML-escaped (& < > " ')
  bool name_squeezed = false;            // runs of spaces stored as one, ends trimmed
  std::size_t name_max = 0;              // names stored cut to this many bytes (0: whole)
  double create_garbled = 0;             // share of creates that take effect and are answered with garbage:
  std::string create_garble = "mixed";   // "html" (a 200 page), "cut" (a JSON cut short), "500", "drop" (no reply), "mixed"
  bool record_progress_times = false;    // Stats::progress_at_ms
  bool record_create_bodies = false;     // Stats::create_bodies

  // The webhook (SPEC §9): each export with a webhookUrl is called back at 100 %.
  std::string hook_method = "POST";  // POST (JSON body), GET (query string) or mixed
  double hook_lost = 0;              // share of exports whose hook never comes
  double hook_duplicate = 0;         // share whose hook comes twice
  Millis hook_late{0};               // added to every hook's time
  double hook_midway = 0;            // share also called half-way, with the progress then (< 100)
  double hook_false_finish = 0;      // share called half-way claiming 100 % with a foreign download_url
  std::string hook_ca_file;          // CA for https:// hook URLs (the test CA)

  // Videos (SPEC §10): with serve_videos the link at 100 % points at the
  // simulator itself, which serves each project's video (generated, see
  // videos.hpp) with Range, If-Range and a strong ETag. Each progress reply
  // at 100 % hands out a fresh link.
  bool serve_videos = false;
  std::uint64_t video_min_bytes = 1 << 20;  // each video's size is uniform in [min, max]
  std::uint64_t video_max_bytes = 4 << 20;
  double video_cut = 0;           // share of video replies cut off part-way (the connection closed)
  double video_ignore_range = 0;  // share of range requests answered 200 with the whole video
  // A range that starts at the video's end: 416 with Content-Range "bytes */SIZE",
  // as S3, CDNs and nginx answer (true), or 200 with the whole video (false).
  bool range_at_end_416 = true;
  double link_expired = 0;        // share of links dead when used (403, as an expired signature)
  Millis link_lifetime{0};        // a link older than this answers 410 (0: links do not age)
  std::uint64_t video_rate = 0;   // bytes per second per reply (0: as fast as it goes)
};

struct Stats {
  std::uint64_t requests = 0;  // every API call received
  std::uint64_t token_requests = 0;
  std::uint64_t export_requests = 0;  // export and create calls that started an export
  std::uint64_t progress_requests = 0;
  std::uint64_t list_requests = 0;    // GET /editor/project: the project list
  std::uint64_t unauthorized = 0;     // calls refused for a missing or expired token
  std::uint64_t injected_faults = 0;  // 5xx, 429, drops and HTML pages served on purpose
  std::uint64_t rate_limited = 0;     // 429s for going over rate_limit
  std::uint64_t outage_requests = 0;  // requests that met the outage
  std::uint64_t max_per_second = 0;   // most API calls in any one wall-clock second
  std::uint64_t dropped_exports = 0;  // export/create requests dropped by drop_exports
  std::uint64_t create_requests = 0;  // create calls that made a project
  std::unordered_map<std::string, std::uint32_t> creates_by_tag;  // exportd's tag in the name -> projects made
  std::uint64_t garbled_creates = 0;  // creates answered with garbage by create_garbled
  std::uint64_t invalid_creates = 0;  // creates refused for scenes that break the documented schema
  std::vector<std::string> create_bodies;  // each create call's body as received (record_create_bodies)
  std::vector<std::int64_t> progress_at_ms;  // steady-clock ms of each progress call (record_progress_times)
  std::unordered_map<std::string, std::string> resolutions;  // project id -> resolution its last export asked for
  std::uint64_t duplicate_exports = 0;  // exports of a project that was exported before
  std::uint64_t projects_exported = 0;  // distinct projects
  std::uint64_t auth_header_with_bearer = 0;  // "Bearer ..." sent (the API wants the raw token)
  std::vector<std::string> issued_tokens;  // so tests can look for them where they must not be
  // polled id -> when its export reached 100 % (ms since the Unix epoch)
  std::unordered_map<std::string, std::int64_t> completed_at_ms;
  std::unordered_map<std::string, std::uint32_t> calls_by_project;  // export and progress calls per project id
  std::uint64_t hooks_sent = 0;      // hook calls made (duplicates and half-way ones included)
  std::uint64_t hooks_ok = 0;        // answered 2xx
  std::uint64_t hooks_refused = 0;   // answered 4xx/5xx
  std::uint64_t hooks_failed = 0;    // no answer (connect, TLS, timeout)
  std::uint64_t hooks_lost = 0;      // withheld by hook_lost
  std::uint64_t video_requests = 0;     // GETs of a video
  std::uint64_t video_bytes_sent = 0;   // body bytes written to the wire
  std::uint64_t video_partial = 0;      // 206 replies
  std::uint64_t video_cut = 0;          // replies cut off by video_cut
  std::uint64_t video_ignored_ranges = 0;  // range requests answered 200 by video_ignore_range
  std::uint64_t video_416 = 0;             // ranges from the end answered 416 (range_at_end_416)
  std::uint64_t links_refused = 0;      // 403/410 for a dead or aged link
  std::unordered_map<std::string, std::uint64_t> video_sizes;  // polled id -> its video's bytes
  std::int64_t video_first_request_ms = 0;  // wall clock of the first video request (0: none)
  std::int64_t video_last_byte_ms = 0;      // ... and of the last body piece written
};

struct TlsFiles {
  std::string cert;  // PEM chain
  std::string key;   // PEM private key
};

class Simulator {
 public:
  // Binds host:port (0 = any free port) and serves on its own thread.
  Simulator(Knobs knobs, const std::string& host = "127.0.0.1", std::uint16_t port = 0,
            const TlsFiles* tls = nullptr);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  std::uint16_t port() const;
  Stats stats();                 // a consistent snapshot, taken on the server thread
  void set_knobs(const Knobs& k);  // takes effect for the next request
  // For download tests: `id`'s export, finished at once with a video of
  // `bytes`, and a fresh link to it (as a progress reply at 100 % hands out).
  std::string finished_video(const std::string& id, std::uint64_t bytes);
  void stop();

  struct State;

 private:
  boost::asio::io_context io_;
  std::unique_ptr<State> state_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace exportd::sim
