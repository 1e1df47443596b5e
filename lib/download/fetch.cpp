#include "download/fetch.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/video_link.hpp"
#include "http/connection.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;

namespace {

FetchOutcome outcome(FetchEnd end, FetchCause cause, std::string why) { return {end, cause, std::move(why), 0, {}}; }

// Blocking work on the files executor, awaited from the event loop.
template <class F>
auto on_files(asio::any_io_executor files, F f) -> awaitable<decltype(f())> {
  co_return co_await asio::co_spawn(
      files, [f = std::move(f)]() mutable -> awaitable<decltype(f())> { co_return f(); }, use_awaitable);
}

bool is_disk_full(int e) { return write_errc(e) == Errc::disk_full; }

// A local failure as a try's end: a full disk waits, anything else fails the job.
FetchOutcome local_failure(const Failure& f) {
  const bool full = f.code.category() == boost::system::system_category() && is_disk_full(f.code.value());
  return full ? outcome(FetchEnd::disk_full, FetchCause::disk_full, f.message)
              : outcome(FetchEnd::failed, FetchCause::local, f.message);
}

// One try's state, shared by its steps.
struct Session {
  asio::any_io_executor files;
  const FetchOptions& options;
  const VideoUrl& url;
  const VideoFolder& folder;  // NAME's, opened once for the try
  VideoFile& file;
  TimePoint deadline;  // the job's
  std::string& location;
  const std::function<awaitable<void>(const VideoFile&)>& record;
};

// How a connection's failure ends the try: most are a cut (resumed by the
// next try); a certificate that does not verify, or a name pointing at this
// machine, fail this one job (other videos may come from other hosts).
FetchOutcome net_outcome(const NetError& e, const Session& s) {
  const auto& host = s.url.endpoint.host;
  switch (e.fault) {
    case NetFault::silent:
      return outcome(FetchEnd::cut, FetchCause::silent,
                     "nothing from " + host + " for " + format_duration(s.options.timeout) + " (while " +
                         std::string(stage_name(e.stage)) + ")");
    case NetFault::deadline:
      return outcome(FetchEnd::cut, FetchCause::deadline,
                     "the job's deadline (polling.job_timeout) came mid-download; the " +
                         std::to_string(s.file.part.bytes) + " bytes on disk are kept");
    case NetFault::unreachable:
      return outcome(FetchEnd::cut, FetchCause::unreachable, e.message);
    case NetFault::tls_verify:
      return outcome(FetchEnd::failed, FetchCause::tls_verify, e.message);
    case NetFault::refused_address:
      return outcome(FetchEnd::failed, FetchCause::link, e.message);
    case NetFault::closed:
    case NetFault::cancelled:
    case NetFault::other:
      break;
  }
  if (e.stage == NetStage::read_body)
    return outcome(FetchEnd::cut, FetchCause::cut,
                   "the transfer stopped after " + std::to_string(s.file.part.bytes) + " bytes: " + e.message);
  return outcome(FetchEnd::cut, FetchCause::cut, e.message);
}

// How a try ends when the reply's head sends no body to write.
FetchOutcome no_body(const Judgement& j) {
  if (j.verdict == Verdict::complete) return outcome(FetchEnd::complete, FetchCause::none, "");
  if (j.verdict == Verdict::redirect) return outcome(FetchEnd::retry_later, FetchCause::none, "redirect");
  const bool later = j.verdict == Verdict::restart || j.verdict == Verdict::retry_later;
  const auto end = later                                ? FetchEnd::retry_later
                   : j.verdict == Verdict::refresh_link ? FetchEnd::refresh_link
                                                        : FetchEnd::failed;
  return outcome(end, j.too_long ? FetchCause::too_long : FetchCause::reply, j.why);
}

// The bytes written so far vouched for: their digest journaled. They are
// not synced here: a checkpoint whose bytes a machine crash lost does not
// match at the restart, which then fetches them again. The check keeps a
// wrong byte out, not a sync (fdatasync or sync_file_range here stalled the
// stream: 1 GiB to a disk at 500 MiB/s instead of 800); a whole part is
// still fsynced before its rename (finish_video).
awaitable<void> checkpoint(Session& s) {
  if (s.file.part.bytes == s.file.checkpoint.bytes) co_return;
  s.file.checkpoint = {s.file.part.bytes, s.file.hash.hex()};
  co_await s.record(s.file);
}

// The request, the reply's head judged, and its body into NAME.part.
awaitable<FetchOutcome> exchange(Connection& link, Session& s) {
  auto& file = s.file;
  const auto& options = s.options;
  const auto resume = resume_headers(file.part);
  http::request<http::string_body> req{http::verb::get, s.url.target, 11};
  req.set(http::field::host, s.url.endpoint.host_header());
  req.set(http::field::user_agent, "exportd/" EXPORTD_VERSION);
  req.set(http::field::accept, "*/*");
  // The bytes as stored: their digest is the video's (RFC 9110 §12.5.3).
  req.set(http::field::accept_encoding, "identity");
  if (!resume.range.empty()) {
    req.set(http::field::range, resume.range);
    req.set(http::field::if_range, resume.if_range);
  }
  req.keep_alive(false);
  if (auto failed = co_await link.write(req)) co_return net_outcome(*failed, s);

  http::response_parser<http::buffer_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (auto failed = co_await link.read_head(parser)) co_return net_outcome(*failed, s);
  const auto& res = parser.get();
  ReplyHead head;
  head.status = static_cast<int>(res.result_int());
  if (auto len = parser.content_length()) head.content_length = *len;
  const auto field = [&](http::field f) {
    auto it = res.find(f);
    return it == res.end() ? std::string() : std::string(it->value());
  };
  head.content_range = field(http::field::content_range);
  head.etag = field(http::field::etag);
  head.last_modified = field(http::field::last_modified);
  head.location = field(http::field::location);
  head.content_encoding = field(http::field::content_encoding);
  if (!head.etag.empty() && !is_token_text(head.etag, 256)) head.etag.clear();
  if (head.last_modified.size() > 64) head.last_modified.clear();

  const auto judged = judge_reply(file.part, head, options.max_bytes);
  if (judged.verdict != Verdict::write) {
    if (judged.verdict == Verdict::redirect) s.location = head.location;
    if (judged.verdict == Verdict::restart) start_over(file);
    co_return no_body(judged);
  }

  // Where the bytes go, on disk before the first of them.
  auto writer = co_await on_files(s.files, [&] { return open_part(s.folder, file, judged.offset); });
  if (!writer.fd)
    co_return writer.shrank ? outcome(FetchEnd::retry_later, FetchCause::changed, writer.error.message)
                            : local_failure(writer.error);
  if (judged.offset == 0) {
    // From the start: what the journal vouched for went with the truncation.
    file.hash.reset();
    file.checkpoint = {};
  }
  file.part.validator = judged.validator;
  file.part.total = judged.total;
  co_await s.record(file);

  // The body is written and hashed right where it is read, a buffer at a
  // time: the bytes the kernel just copied in are still in this core's cache
  // for the write's copy and the hash. (A second thread writing while this
  // one reads cost more than it saved: the data crossed cores, and the two
  // threads woke each other for every buffer.) This runs on a
  // download thread, never on the event loop (NetworkVideoFetcher).
  std::vector<char> buf(options.buffer_bytes);
  const int fd = writer.fd.get();
  FetchOutcome out{FetchEnd::complete, FetchCause::none, "", 0, {}};
  // Writes and hashes what was read; false (and `out` says why) when it failed.
  const auto store = [&](const char* data, std::size_t n) {
    const auto w = write_part(fd, data, n, file.hash);
    file.part.bytes += w.bytes;
    out.received += w.bytes;
    if (w.error != 0) {
      out.end = is_disk_full(w.error) ? FetchEnd::disk_full : FetchEnd::failed;
      out.cause = is_disk_full(w.error) ? FetchCause::disk_full : FetchCause::local;
      out.why = "cannot write " + file.part_path() + ": " + std::strerror(w.error);
      return false;
    }
    if (file.part.bytes > options.max_bytes) {
      out.end = FetchEnd::failed;
      out.cause = FetchCause::too_long;
      out.why = "the video is longer than download.max_bytes (" + std::to_string(options.max_bytes) + " bytes)";
      return false;
    }
    return true;
  };
  // A body of known length (the common case) is read straight into the
  // buffer, a whole buffer per wake-up; a chunked one goes through the parser.
  const bool counted = !parser.chunked() && parser.content_length().has_value();
  std::uint64_t left = counted ? *parser.content_length() : 0;
  const auto body_done = [&] { return counted ? left == 0 : parser.is_done(); };
  auto checkpointed_at = options.time->now();
  // One piece of the body into `into`: the error if the read failed, and what came.
  const auto read_piece = [&](char* into) -> awaitable<std::pair<std::optional<NetError>, std::size_t>> {
    if (!counted) {
      parser.get().body().data = into;
      parser.get().body().size = options.buffer_bytes;
      auto [failed, n] = co_await link.read_body_some(parser);
      co_return std::pair{std::move(failed), options.buffer_bytes - parser.get().body().size};
    }
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(options.buffer_bytes, left));
    auto [failed, got] = co_await link.read_raw(into, want, 64 * 1024);
    left -= got;
    co_return std::pair{std::move(failed), got};
  };
  while (!body_done()) {
    auto [failed, got] = co_await read_piece(buf.data());
    if (got > 0 && !store(buf.data(), got)) break;
    if (failed) {
      const auto received = out.received;
      out = net_outcome(*failed, s);
      out.received = received;
      break;
    }
    const auto grown = file.part.bytes - file.checkpoint.bytes;
    const bool due = grown >= options.checkpoint_bytes ||
                     (grown >= (1u << 20) && options.time->now() - checkpointed_at >= options.checkpoint_every);
    if (due) {
      co_await checkpoint(s);
      checkpointed_at = options.time->now();
    }
  }
  if (out.end == FetchEnd::complete && file.part.total && file.part.bytes != *file.part.total) {
    out.end = FetchEnd::cut;
    out.cause = FetchCause::cut;
    out.why =
        "the reply ended at " + std::to_string(file.part.bytes) + " of " + std::to_string(*file.part.total) + " bytes";
  }
  if (out.end == FetchEnd::complete && !file.part.total) file.part.total = file.part.bytes;  // chunked: known now
  // Whether the try was whole or cut, what it wrote is vouched for: a
  // restart keeps it, a damaged copy of it is caught.
  if (out.end == FetchEnd::complete || out.end == FetchEnd::cut) co_await checkpoint(s);
  co_return out;
}

awaitable<FetchOutcome> fetch_once(Session& s) {
  Connection link(co_await asio::this_coro::executor, *s.options.time, s.options.tls);
  std::optional<FetchOutcome> result;
  // Connect, handshake and the exchange, all under the one watchdog: no
  // silence longer than the timeout, nothing past the job's deadline.
  co_await link.run(Deadlines::quiet_for(s.options.timeout, s.deadline), [&]() -> awaitable<void> {
    // Only the watchdog's close ends it: a cancelled wait could leave a
    // write on the files thread or a journal record half done.
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    if (auto failed = co_await link.open(s.url.endpoint, true)) {
      result = net_outcome(*failed, s);
      co_return;
    }
    result = co_await exchange(link, s);
  });
  co_return std::move(*result);
}

}  // namespace

awaitable<FetchOutcome> fetch_video(asio::any_io_executor files, const FetchOptions& options, std::string url,
                                    VideoFile& file, TimePoint deadline,
                                    std::function<awaitable<void>(const VideoFile&)> record) {
  if (options.time == nullptr) throw std::invalid_argument("fetch_video: FetchOptions.time is not set");
  if (!options.root) co_return outcome(FetchEnd::failed, FetchCause::local, "downloads have no folder (download.dir)");
  auto folder = co_await on_files(files, [&] { return options.root->folder_of(file.path, true); });
  if (!folder) co_return local_failure(folder.error());
  auto check = co_await on_files(files, [&] { return check_part(*folder, file, options.buffer_bytes); });
  const auto ended = [&](FetchOutcome out) {
    out.discarded = check.discarded;
    return out;
  };
  if (check.next == PartNext::blocked) co_return ended(outcome(FetchEnd::failed, FetchCause::local, check.why));
  if (check.next == PartNext::in_place) co_return ended(outcome(FetchEnd::complete, FetchCause::none, ""));
  if (!check.discarded.empty()) co_await record(file);  // the journal no longer vouches for what was thrown away
  auto parsed = parse_video_url(url);
  if (!parsed) co_return ended(outcome(FetchEnd::failed, FetchCause::link, parsed.error().message));
  for (int hop = 0;; ++hop) {
    std::string location;
    Session session{files, options, *parsed, *folder, file, deadline, location, record};
    auto out = co_await fetch_once(session);
    if (location.empty()) co_return ended(std::move(out));
    if (hop + 1 >= options.max_redirects)
      co_return ended(outcome(FetchEnd::failed, FetchCause::link, "too many redirects"));
    auto next = redirect_target(url, location);
    if (!next) co_return ended(outcome(FetchEnd::failed, FetchCause::link, next.error().message));
    auto to = parse_video_url(*next);
    if (!to) co_return ended(outcome(FetchEnd::failed, FetchCause::link, "a redirect to " + to.error().message));
    if (auto refused = redirect_refusal(*parsed, *to); !refused.empty())
      co_return ended(outcome(FetchEnd::failed, FetchCause::link, refused));
    url = std::move(*next);
    parsed = std::move(to);
  }
}

awaitable<Result<FinishedVideo>> finish_video(asio::any_io_executor files, const DownloadRoot& root, VideoFile& file) {
  co_return co_await on_files(files, [&] { return finish_part(root, file); });
}

}  // namespace exportd
