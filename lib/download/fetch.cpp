#include "download/fetch.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "http/tls.hpp"
#include "ops/unique_fd.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using namespace boost::asio::experimental::awaitable_operators;

Result<VideoUrl> parse_video_url(std::string_view url) {
  if (url.size() > max_url_bytes) return Failure{Errc::invalid_input, "the download link is too long"};
  auto web = parse_web_url(url);
  if (!web) return Failure{Errc::invalid_input, "the download link: " + web.error().message};
  if (web->has_userinfo) return Failure{Errc::invalid_input, "the download link carries user info"};
  VideoUrl v{web->endpoint, web->path.empty() ? "/" : web->path};
  if (web->has_query) v.target += "?" + web->query;
  if (!is_token_text(v.target, max_url_bytes))
    return Failure{Errc::invalid_input, "the download link's path cannot be sent"};
  return v;
}

std::string redirect_refusal(const VideoUrl& from, const VideoUrl& to) {
  if (from.endpoint.tls && !to.endpoint.tls) return "a redirect from https to plain http is not followed";
  if (!is_loopback_host(from.endpoint.host) && is_loopback_host(to.endpoint.host))
    return "a redirect from " + from.endpoint.host + " to a loopback host (" + to.endpoint.host + ") is not followed";
  return "";
}

void adopt_partial_file(VideoFile& file, std::string validator, std::optional<std::uint64_t> total,
                        Checkpoint checkpoint) {
  // Only what a checkpoint vouches for is kept; the next try checks it.
  file.part.bytes = checkpoint.bytes;
  file.part.validator = std::move(validator);
  file.part.total = total;
  file.checkpoint = std::move(checkpoint);
  file.hash.reset();
  file.most = 0;
  file.in_place = false;
}

namespace {

FetchOutcome outcome(FetchEnd end, std::string why, std::uint64_t received = 0) {
  return {end, std::move(why), received, {}};
}

// Blocking work on the files executor, awaited from the event loop.
template <class F>
auto on_files(asio::any_io_executor files, F f) -> awaitable<decltype(f())> {
  co_return co_await asio::co_spawn(
      files, [f = std::move(f)]() mutable -> awaitable<decltype(f())> { co_return f(); }, use_awaitable);
}

// Feeds the first `n` bytes of `fd` into `hash` (from the start); 0, or the
// errno of the read that failed (EIO: the file is shorter than `n`).
int hash_prefix(int fd, std::uint64_t n, Sha256& hash, std::vector<char>& scratch) {
  hash.reset();
  for (std::uint64_t at = 0; at < n;) {
    const auto got = ::pread(fd, scratch.data(), std::min<std::uint64_t>(scratch.size(), n - at), static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return got < 0 ? errno : EIO;
    hash.update(scratch.data(), static_cast<std::size_t>(got));
    at += static_cast<std::uint64_t>(got);
  }
  return 0;
}

bool is_disk_full(int e) { return write_errc(e) == Errc::disk_full; }

// A local failure as a try's end: a full disk waits, anything else fails the job.
FetchOutcome local_failure(const Failure& f) {
  const bool full = f.code.category() == boost::system::system_category() && is_disk_full(f.code.value());
  return outcome(full ? FetchEnd::disk_full : FetchEnd::failed, f.message);
}

// Drops what is on disk of the download: the next bytes start the video over.
void start_over(VideoFile& file) {
  file.part = {};
  file.checkpoint = {};
  file.hash.reset();
  file.in_place = false;
}

// Whether the first `ck.bytes` bytes of `leaf` in `dir` hash to `ck.sha256`
// (`hash` then covers them).
bool matches(int dir, const std::string& leaf, const Checkpoint& ck, Sha256& hash, std::vector<char>& scratch) {
  UniqueFd fd(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd || hash_prefix(fd.get(), ck.bytes, hash, scratch) != 0) return false;
  return ck.bytes == 0 || hash.hex() == ck.sha256;
}

// Before a try asks for anything, in NAME's folder (opened below the root,
// made as needed, no link followed): NAME not something else (a folder),
// and, after a restart, the bytes on disk checked against the journal's
// checkpoint: the part is kept up to it only if they still hash to its
// digest; a NAME already in place only if it does. Nothing: go on (`file`
// says from where); otherwise how the try ends. `discarded` says what was
// thrown away.
std::optional<FetchOutcome> prepare(const VideoFolder& folder, VideoFile& file, std::size_t scratch_bytes,
                                    std::string& discarded) {
  const int dir = folder.fd.get();
  const auto& leaf = folder.leaf;
  const std::string part_leaf = leaf + ".part";
  struct stat st {};
  const bool named = ::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (named && !S_ISREG(st.st_mode))
    return outcome(FetchEnd::failed, file.path + " exists and is not a regular file (a folder or a link): it is "
                                                 "left alone; move it away or change download.name");
  if (file.in_place) return outcome(FetchEnd::complete, "");
  if (file.hash.bytes() == file.part.bytes) return std::nullopt;  // this run's bytes, hashed as they were written

  std::vector<char> scratch(scratch_bytes);
  const auto& ck = file.checkpoint;
  struct stat ps {};
  const bool has_part = ::fstatat(dir, part_leaf.c_str(), &ps, AT_SYMLINK_NOFOLLOW) == 0;
  if (!has_part && named && ck.bytes > 0 && file.part.total == ck.bytes) {
    // Renamed into place before a crash cut the job short of recording its end.
    if (static_cast<std::uint64_t>(st.st_size) == ck.bytes && matches(dir, leaf, ck, file.hash, scratch)) {
      file.part.bytes = ck.bytes;
      file.in_place = true;
      return outcome(FetchEnd::complete, "");
    }
    discarded = file.path + " does not hash to the digest journaled for it: downloading it again";
    start_over(file);
    return std::nullopt;
  }
  if (has_part && S_ISREG(ps.st_mode) && static_cast<std::uint64_t>(ps.st_size) >= ck.bytes &&
      matches(dir, part_leaf, ck, file.hash, scratch)) {
    file.part.bytes = ck.bytes;  // what follows the checkpoint may never have reached the disk: fetched again
    return std::nullopt;
  }
  if (ck.bytes > 0)
    discarded = file.part_path() + " does not match its checkpoint (" + std::to_string(ck.bytes) +
                " bytes journaled): downloading the video again";
  start_over(file);
  return std::nullopt;
}

// NAME.part opened for writing at `offset` in its folder, truncated there.
struct PartWriter {
  UniqueFd fd;
  Failure error;
  bool shrank = false;  // shorter than this download left it: start over
};

PartWriter open_part(const VideoFolder& folder, VideoFile& file, std::uint64_t offset) {
  PartWriter w;
  const std::string part_leaf = folder.leaf + ".part";
  w.fd = UniqueFd(::openat(folder.fd.get(), part_leaf.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!w.fd) return {{}, system_failure(errno, "cannot open " + file.part_path())};
  struct stat st {};
  ::fstat(w.fd.get(), &st);
  if (offset > static_cast<std::uint64_t>(st.st_size)) {
    // Changed under us: the bytes that came for `offset` cannot go there.
    start_over(file);
    return {{}, Failure{Errc::invalid_input, file.part_path() + " is shorter than recorded; starting the download over"},
            true};
  }
  if (::ftruncate(w.fd.get(), static_cast<off_t>(offset)) != 0 ||
      ::lseek(w.fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
    return {{}, system_failure(errno, "cannot set " + file.part_path() + " to " + std::to_string(offset) + " bytes")};
  file.part.bytes = offset;
  return w;
}

// Writes all of data[0, n) (or as much as fits) and hashes what was written.
struct Written {
  std::size_t bytes = 0;
  int error = 0;
};
Written write_part(int fd, const char* data, std::size_t n, Sha256& hash) {
  Written w;
  while (w.bytes < n) {
    const auto r = ::write(fd, data + w.bytes, n - w.bytes);
    if (r < 0) {
      if (errno == EINTR) continue;
      w.error = errno;
      break;
    }
    w.bytes += static_cast<std::size_t>(r);
  }
  hash.update(data, w.bytes);
  return w;
}

// When the connection last moved: the watchdog closes it after
// options.timeout of silence (any byte that arrives counts), or at the
// job's deadline, whichever comes first.
struct Activity {
  Activity(const EngineTime& t, TimePoint d) : time(t), last(t.now()), deadline(d) {}
  const EngineTime& time;
  TimePoint last;
  TimePoint deadline;
  enum class Ended : std::uint8_t {
    no,        // still running, or ended by itself
    silent,    // closed after options.timeout without a byte
    deadline,  // closed at the job's deadline
  } ended = Ended::no;
  void touch() { last = time.now(); }
};

// One alarm for the whole connection (not one per read): closes the socket
// once nothing has moved for `timeout` or the deadline has come, which ends
// whatever waits on it.
awaitable<void> watchdog(tcp::socket& socket, Activity& activity, Millis timeout, EngineTime& time) {
  auto alarm = time.alarm(co_await asio::this_coro::executor);
  for (;;) {
    const auto silent_at = activity.last + timeout;
    const auto due = std::min(silent_at, activity.deadline);
    if (time.now() >= due) {
      activity.ended = activity.deadline < silent_at ? Activity::Ended::deadline : Activity::Ended::silent;
      error_code ignored;
      socket.close(ignored);
      co_return;
    }
    alarm->expires_at(due);
    co_await alarm->wait();
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;  // the exchange ended first
  }
}

// A completion condition: reads until `least` bytes have come (or the
// buffer is full), and takes every read that brings any as the connection
// moving, so a slow and steady host is never taken for a silent one.
struct ReadAtLeast {
  std::size_t least;
  Activity* activity;
  std::size_t seen = 0;
  std::size_t operator()(const error_code& ec, std::size_t transferred) {
    if (transferred > seen) {
      seen = transferred;
      activity->touch();
    }
    if (ec || transferred >= least) return 0;
    return 64 * 1024;
  }
};

// One try's state, shared by its steps.
struct Session {
  asio::any_io_executor files;
  const FetchOptions& options;
  const VideoUrl& url;
  const VideoFolder& folder;  // NAME's, opened once for the try
  VideoFile& file;
  Activity& activity;
  std::string& location;
  const std::function<awaitable<void>(const VideoFile&)>& record;
};

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

template <class Stream>
awaitable<FetchOutcome> exchange(Stream& stream, Session& s) {
  auto& file = s.file;
  auto& activity = s.activity;
  const auto& options = s.options;
  const auto resume = resume_headers(file.part);
  http::request<http::empty_body> req{http::verb::get, s.url.target, 11};
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
  auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(use_awaitable));
  activity.touch();
  if (wec) co_return outcome(FetchEnd::cut, "sending the request: " + wec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  // The head read from the stream a piece at a time and handed to the
  // parser, so each piece counts against the silence: a host sending its
  // head slowly is not taken for a silent one (Beast's own read of a head
  // completes only once the whole head is in).
  error_code hec;
  while (!parser.is_header_done()) {
    if (buffer.size() > 0) {
      buffer.consume(parser.put(buffer.data(), hec));
      if (hec == http::error::need_more) hec = {};
      if (hec || parser.is_header_done()) break;
    }
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(16 * 1024), asio::as_tuple(use_awaitable));
    buffer.commit(n);
    if (n > 0) activity.touch();
    if (ec) {
      hec = ec;
      break;
    }
  }
  if (hec) co_return outcome(FetchEnd::cut, "reading the reply: " + hec.message());
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
  switch (judged.verdict) {
    case Verdict::complete:
      co_return outcome(FetchEnd::complete, "");
    case Verdict::redirect:
      s.location = head.location;
      co_return outcome(FetchEnd::retry_later, "redirect");
    case Verdict::restart:
      start_over(file);
      co_return outcome(FetchEnd::retry_later, judged.why);
    case Verdict::refresh_link:
      co_return outcome(FetchEnd::refresh_link, judged.why);
    case Verdict::retry_later:
      co_return outcome(FetchEnd::retry_later, judged.why);
    case Verdict::fail:
      co_return outcome(FetchEnd::failed, judged.why);
    case Verdict::write:
      break;
  }

  // Where the bytes go, on disk before the first of them.
  auto writer = co_await on_files(s.files, [&] { return open_part(s.folder, file, judged.offset); });
  if (!writer.fd) co_return writer.shrank ? outcome(FetchEnd::retry_later, writer.error.message) : local_failure(writer.error);
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
  FetchOutcome out{FetchEnd::complete, "", 0, {}};
  // Writes and hashes what was read; false (and `out` says why) when it failed.
  const auto store = [&](const char* data, std::size_t n) {
    const auto w = write_part(fd, data, n, file.hash);
    file.part.bytes += w.bytes;
    out.received += w.bytes;
    if (w.error != 0) {
      out.end = is_disk_full(w.error) ? FetchEnd::disk_full : FetchEnd::failed;
      out.why = "cannot write " + file.part_path() + ": " + std::strerror(w.error);
      return false;
    }
    if (file.part.bytes > options.max_bytes) {
      out.end = FetchEnd::failed;
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
  const auto read_piece = [&](char* into) -> awaitable<std::pair<error_code, std::size_t>> {
    if (!counted) {
      parser.get().body().data = into;
      parser.get().body().size = options.buffer_bytes;
      auto [rec, rn] = co_await http::async_read_some(stream, buffer, parser, asio::as_tuple(use_awaitable));
      if (rn > 0) activity.touch();
      if (rec == http::error::need_buffer) rec = {};
      co_return std::pair{rec, options.buffer_bytes - parser.get().body().size};
    }
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(options.buffer_bytes, left));
    std::size_t got = asio::buffer_copy(asio::buffer(into, want), buffer.data());  // read with the head
    buffer.consume(got);
    error_code ec;
    if (got < want) {
      auto [rec, n] = co_await asio::async_read(stream, asio::buffer(into + got, want - got),
                                                ReadAtLeast{std::min<std::size_t>(want - got, 64 * 1024), &activity},
                                                asio::as_tuple(use_awaitable));
      ec = rec;
      got += n;
    }
    left -= got;
    co_return std::pair{ec, got};
  };
  while (!body_done()) {
    auto [rec, got] = co_await read_piece(buf.data());
    if (got > 0 && !store(buf.data(), got)) break;
    if (rec) {
      out.end = FetchEnd::cut;
      out.why = "the transfer stopped after " + std::to_string(file.part.bytes) + " bytes: " + rec.message();
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
  const auto& options = s.options;
  const auto& url = s.url;
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto deadline = options.time->alarm(ex);
  deadline->expires_at(std::min(options.time->now() + options.timeout, s.activity.deadline));
  auto raced = co_await (
      resolver.async_resolve(url.endpoint.host, std::to_string(url.endpoint.port), asio::as_tuple(use_awaitable)) ||
      deadline->wait());
  if (raced.index() == 1)
    co_return outcome(FetchEnd::cut, "cannot resolve " + url.endpoint.host + ": no answer in time");
  auto [rec, results] = std::get<0>(std::move(raced));
  if (rec) co_return outcome(FetchEnd::cut, "cannot resolve " + url.endpoint.host + ": " + rec.message());
  if (!is_loopback_host(url.endpoint.host))
    for (const auto& r : results)
      if (r.endpoint().address().is_loopback())
        co_return outcome(FetchEnd::failed, url.endpoint.host + " resolves to a loopback address: not fetched");
  tcp::socket socket(ex);
  std::optional<FetchOutcome> result;
  // Connect, handshake and the exchange, all under the one watchdog.
  auto session = [&]() -> awaitable<void> {
    // Only the watchdog's close ends it: a cancelled wait could leave a
    // write on the files thread or a journal record half done.
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    auto [cec, endpoint] = co_await asio::async_connect(socket, results, asio::as_tuple(use_awaitable));
    s.activity.touch();
    if (cec) {
      result = outcome(FetchEnd::cut, "connect to " + url.endpoint.host + ": " + cec.message());
      co_return;
    }
    socket.set_option(tcp::no_delay(true));
    if (!url.endpoint.tls) {
      result = co_await exchange(socket, s);
      co_return;
    }
    asio::ssl::stream<tcp::socket&> tls_stream(socket, *options.tls);
    if (!prepare_tls_session(tls_stream.native_handle(), url.endpoint.host)) {
      result = outcome(FetchEnd::failed, "cannot set up TLS name checking for " + url.endpoint.host);
      co_return;
    }
    auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable));
    s.activity.touch();
    if (hec) {
      const auto reason = verify_failure_reason(tls_stream.native_handle());
      result = reason.empty()
                   ? outcome(FetchEnd::cut, "TLS handshake with " + url.endpoint.host + " failed: " + hec.message())
                   : outcome(FetchEnd::failed,
                             "TLS certificate verification failed for " + url.endpoint.host + ": " + reason);
      co_return;
    }
    result = co_await exchange(tls_stream, s);
  };
  co_await (session() || watchdog(socket, s.activity, options.timeout, *options.time));
  // The session always runs to its end (it cannot be cancelled), so its
  // outcome, and the bytes it wrote, count whoever finished first.
  auto out = result.value_or(outcome(FetchEnd::cut, "the connection ended"));
  if (s.activity.ended != Activity::Ended::no && out.end == FetchEnd::cut) {
    out.why = s.activity.ended == Activity::Ended::deadline
                  ? "the job's deadline (polling.job_timeout) came mid-download; the " +
                        std::to_string(s.file.part.bytes) + " bytes on disk are kept"
                  : "nothing from " + url.endpoint.host + " for " + format_duration(options.timeout) + " (" +
                        out.why + ")";
  }
  co_return out;
}

}  // namespace

awaitable<FetchOutcome> fetch_video(asio::any_io_executor files, const FetchOptions& options, std::string url,
                                    VideoFile& file, TimePoint deadline,
                                    std::function<awaitable<void>(const VideoFile&)> record) {
  if (!options.root) co_return outcome(FetchEnd::failed, "downloads have no folder (download.dir)");
  auto folder = co_await on_files(files, [&] { return options.root->folder_of(file.path, true); });
  if (!folder) co_return local_failure(folder.error());
  std::string discarded;
  auto ready = co_await on_files(files, [&] { return prepare(*folder, file, options.buffer_bytes, discarded); });
  const auto ended = [&](FetchOutcome out) {
    out.discarded = discarded;
    return out;
  };
  if (ready) co_return ended(std::move(*ready));
  if (!discarded.empty()) co_await record(file);  // the journal no longer vouches for what was thrown away
  auto parsed = parse_video_url(url);
  if (!parsed) co_return ended(outcome(FetchEnd::failed, parsed.error().message));
  Activity activity(*options.time, deadline);
  for (int hop = 0;; ++hop) {
    std::string location;
    Session session{files, options, *parsed, *folder, file, activity, location, record};
    auto out = co_await fetch_once(session);
    if (location.empty() || activity.ended != Activity::Ended::no) co_return ended(std::move(out));
    if (hop + 1 >= options.max_redirects) co_return ended(outcome(FetchEnd::failed, "too many redirects"));
    // Location may be relative to the link it came from.
    auto base = boost::urls::parse_absolute_uri(url);
    auto ref = boost::urls::parse_uri_reference(location);
    if (!base || !ref) co_return ended(outcome(FetchEnd::failed, "a redirect to something that is not a URL"));
    boost::urls::url next;
    if (auto r = boost::urls::resolve(*base, *ref, next); !r)
      co_return ended(outcome(FetchEnd::failed, "a redirect that cannot be followed"));
    auto to = parse_video_url(next.buffer());
    if (!to) co_return ended(outcome(FetchEnd::failed, "a redirect to " + to.error().message));
    if (auto refused = redirect_refusal(*parsed, *to); !refused.empty())
      co_return ended(outcome(FetchEnd::failed, refused));
    url = std::string(next.buffer());
    parsed = std::move(to);
    activity.touch();
  }
}

namespace {

// `record` run on `loop` (the caller's executor), awaited from the files thread.
awaitable<void> record_on(asio::any_io_executor loop, VideoFetcher::Record record, const VideoFile& file) {
  auto work = record(file);
  co_await asio::co_spawn(loop, std::move(work), use_awaitable);
}

}  // namespace

struct DownloadThreads::Thread {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> busy = asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
};

DownloadThreads::DownloadThreads(std::size_t count) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, count); ++i) threads_.push_back(std::make_unique<Thread>());
}

DownloadThreads::~DownloadThreads() {
  for (auto& t : threads_) t->io.stop();
  for (auto& t : threads_) t->thread.join();
}

asio::any_io_executor DownloadThreads::next() {
  auto ex = threads_[next_]->io.get_executor();
  next_ = (next_ + 1) % threads_.size();
  return ex;
}

awaitable<FetchOutcome> NetworkVideoFetcher::fetch(const std::string& url, VideoFile& file, TimePoint deadline,
                                                   Record record) {
  auto loop = co_await asio::this_coro::executor;
  Record on_loop = [loop, record = std::move(record)](const VideoFile& f) { return record_on(loop, record, f); };
  auto there = threads_.next();
  auto work = fetch_video(there, options_, url, file, deadline, std::move(on_loop));
  co_return co_await asio::co_spawn(there, std::move(work), use_awaitable);
}

awaitable<Result<FinishedVideo>> finish_video(asio::any_io_executor files, const DownloadRoot& root, VideoFile& file) {
  co_return co_await on_files(files, [&]() -> Result<FinishedVideo> {
    auto folder = root.folder_of(file.path, false);
    if (!folder) return folder.error();
    const int dir = folder->fd.get();
    const std::string part_leaf = folder->leaf + ".part";
    const bool renamed = file.in_place;  // before a crash cut the job short of recording its end; checked since
    const auto& path = renamed ? file.path : file.part_path();
    UniqueFd fd(::openat(dir, renamed ? folder->leaf.c_str() : part_leaf.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return system_failure(errno, "cannot open " + path);
    struct stat st {};
    ::fstat(fd.get(), &st);
    const auto bytes = static_cast<std::uint64_t>(st.st_size);
    if (bytes != file.part.bytes || (file.part.total && bytes != *file.part.total))
      return Failure{Errc::invalid_input, path + " holds " + std::to_string(bytes) + " bytes, not the " +
                                              std::to_string(file.part.total.value_or(file.part.bytes)) + " expected"};
    // The digest recorded is of the bytes this run wrote, or checked
    // against a checkpoint: never one read back from a file nobody vouched for.
    if (file.hash.bytes() != bytes)
      return Failure{Errc::invalid_input, path + ": the digest covers " + std::to_string(file.hash.bytes()) +
                                              " of its " + std::to_string(bytes) + " bytes"};
    if (!renamed) {
      if (::fsync(fd.get()) != 0) return system_failure(errno, "cannot sync " + path);
      if (::renameat(dir, part_leaf.c_str(), dir, folder->leaf.c_str()) != 0)
        return system_failure(errno, "cannot rename " + path);
      if (::fsync(dir) != 0) return system_failure(errno, "cannot sync the folder of " + file.path);
      file.in_place = true;
    }
    return FinishedVideo{file.path, bytes, file.hash.hex()};
  });
}

}  // namespace exportd
