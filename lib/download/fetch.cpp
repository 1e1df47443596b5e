#include "download/fetch.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
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
#include "ops/durable_write.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
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

void adopt_partial_file(VideoFile& file, std::string validator, std::optional<std::uint64_t> total) {
  struct stat st {};
  file.part.bytes = ::stat(file.part_path().c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  file.part.validator = std::move(validator);
  file.part.total = total;
  file.hash.reset();
}

namespace {

FetchOutcome outcome(FetchEnd end, std::string why, std::uint64_t received = 0) {
  return {end, std::move(why), received};
}

// Blocking work on the files executor, awaited from the event loop.
template <class F>
auto on_files(asio::any_io_executor files, F f) -> awaitable<decltype(f())> {
  co_return co_await asio::co_spawn(
      files, [f = std::move(f)]() mutable -> awaitable<decltype(f())> { co_return f(); }, use_awaitable);
}

// NAME.part opened for writing at `offset`, its hash brought to that point
// (re-read from disk after a restart). -1 and errno on failure.
struct PartWriter {
  int fd = -1;
  int error = 0;
  std::string what;
};

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

PartWriter open_part(VideoFile& file, std::uint64_t offset, std::vector<char>& scratch) {
  PartWriter w;
  std::error_code ec;
  fs::create_directories(fs::path(file.path).parent_path(), ec);
  if (ec) return {-1, ec.value(), "cannot make the folder for " + file.path + ": " + ec.message()};
  w.fd = ::open(file.part_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (w.fd < 0) return {-1, errno, "cannot open " + file.part_path() + ": " + std::strerror(errno)};
  struct stat st {};
  ::fstat(w.fd, &st);
  const auto on_disk = static_cast<std::uint64_t>(st.st_size);
  if (offset > on_disk) {
    // Shorter than this download left it (changed under us): the bytes
    // that came for `offset` cannot go there. The next try starts afresh.
    ::close(w.fd);
    file.part = {};
    file.hash.reset();
    return {-1, ESTALE, file.part_path() + " is shorter than recorded; starting the download over"};
  }
  if (file.hash.bytes() != offset) {
    // After a restart (or a start over): the hash of the bytes already
    // there, read back once, so it covers exactly what precedes `offset`.
    if (const int e = hash_prefix(w.fd, offset, file.hash, scratch); e != 0) {
      ::close(w.fd);
      return {-1, e, "cannot read " + file.part_path() + " back: " + std::strerror(e)};
    }
  }
  if (::ftruncate(w.fd, static_cast<off_t>(offset)) != 0 || ::lseek(w.fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    const int e = errno;
    ::close(w.fd);
    return {-1, e, "cannot set " + file.part_path() + " to " + std::to_string(offset) + " bytes: " + std::strerror(e)};
  }
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

bool is_disk_full(int e) { return write_errc(e) == Errc::disk_full; }

// When the connection last moved: the watchdog closes it after options.timeout of silence.
struct Activity {
  explicit Activity(const EngineTime& t) : time(t), last(t.now()) {}
  const EngineTime& time;
  TimePoint last;
  bool timed_out = false;
  void touch() { last = time.now(); }
};

// One alarm for the whole connection (not one per read): closes the socket
// once nothing has moved for `timeout`, which ends whatever waits on it.
awaitable<void> watchdog(tcp::socket& socket, Activity& activity, Millis timeout, EngineTime& time) {
  auto alarm = time.alarm(co_await asio::this_coro::executor);
  for (;;) {
    const auto due = activity.last + timeout;
    if (time.now() >= due) {
      activity.timed_out = true;
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

template <class Stream>
awaitable<FetchOutcome> exchange(Stream& stream, Activity& activity, asio::any_io_executor files,
                                 const FetchOptions& options, const VideoUrl& url, VideoFile& file,
                                 std::string& location,
                                 const std::function<awaitable<void>(const VideoFile&)>& record) {
  const auto resume = resume_headers(file.part);
  http::request<http::empty_body> req{http::verb::get, url.target, 11};
  req.set(http::field::host, url.endpoint.host_header());
  req.set(http::field::user_agent, "exportd/" EXPORTD_VERSION);
  req.set(http::field::accept, "*/*");
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
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(use_awaitable));
  activity.touch();
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
  if (!head.etag.empty() && !is_token_text(head.etag, 256)) head.etag.clear();
  if (head.last_modified.size() > 64) head.last_modified.clear();

  const auto judged = judge_reply(file.part, head);
  switch (judged.verdict) {
    case Verdict::complete:
      co_return outcome(FetchEnd::complete, "");
    case Verdict::redirect:
      location = head.location;
      co_return outcome(FetchEnd::retry_later, "redirect");
    case Verdict::restart:
      file.part.bytes = 0;
      file.part.validator.clear();
      file.part.total.reset();
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
  std::vector<char> buf(options.buffer_bytes);
  auto writer = co_await on_files(files, [&] { return open_part(file, judged.offset, buf); });
  if (writer.fd < 0)
    co_return outcome(is_disk_full(writer.error) ? FetchEnd::disk_full
                      : writer.error == ESTALE   ? FetchEnd::retry_later
                                                 : FetchEnd::failed,
                      writer.what);
  file.part.validator = judged.validator;
  file.part.total = judged.total;
  co_await record(file);

  // The body is written and hashed right where it is read, a buffer at a
  // time: the bytes the kernel just copied in are still in this core's cache
  // for the write's copy and the hash. (A second thread writing while this
  // one reads cost more than it saved: the data crossed cores, and the two
  // threads woke each other for every buffer.) This runs on a
  // download thread, never on the event loop (NetworkVideoFetcher).
  FetchOutcome out{FetchEnd::complete, "", 0};
  // Writes and hashes what was read; false (and `out` says why) when it failed.
  const auto store = [&](const char* data, std::size_t n) {
    const auto w = write_part(writer.fd, data, n, file.hash);
    file.part.bytes += w.bytes;
    out.received += w.bytes;
    if (w.error == 0) return true;
    out.end = is_disk_full(w.error) ? FetchEnd::disk_full : FetchEnd::failed;
    out.why = "cannot write " + file.part_path() + ": " + std::strerror(w.error);
    return false;
  };
  // A body of known length (the common case) is read straight into the
  // buffer, a whole buffer per wake-up; a chunked one goes through the parser.
  const bool counted = !parser.chunked() && parser.content_length().has_value();
  std::uint64_t left = counted ? *parser.content_length() : 0;
  const auto body_done = [&] { return counted ? left == 0 : parser.is_done(); };
  const auto read_piece = [&](char* into) -> awaitable<std::pair<error_code, std::size_t>> {
    if (!counted) {
      parser.get().body().data = into;
      parser.get().body().size = options.buffer_bytes;
      auto [rec, rn] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
      activity.touch();
      if (rec == http::error::need_buffer) rec = {};
      co_return std::pair{rec, options.buffer_bytes - parser.get().body().size};
    }
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(options.buffer_bytes, left));
    std::size_t got = asio::buffer_copy(asio::buffer(into, want), buffer.data());  // read with the head
    buffer.consume(got);
    error_code ec;
    while (got < want && !ec) {
      auto [rec, n] = co_await asio::async_read(stream, asio::buffer(into + got, want - got),
                                                asio::transfer_at_least(std::min<std::size_t>(want - got, 64 * 1024)),
                                                asio::as_tuple(use_awaitable));
      activity.touch();
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
  }
  if (out.end == FetchEnd::complete && file.part.total && file.part.bytes != *file.part.total) {
    out.end = FetchEnd::cut;
    out.why =
        "the reply ended at " + std::to_string(file.part.bytes) + " of " + std::to_string(*file.part.total) + " bytes";
  }
  ::close(writer.fd);
  co_return out;
}

awaitable<FetchOutcome> fetch_once(asio::any_io_executor files, const FetchOptions& options, const VideoUrl& url,
                                   VideoFile& file, std::string& location,
                                   const std::function<awaitable<void>(const VideoFile&)>& record) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto deadline = options.time->alarm(ex);
  deadline->expires_at(options.time->now() + options.timeout);
  auto raced = co_await (
      resolver.async_resolve(url.endpoint.host, std::to_string(url.endpoint.port), asio::as_tuple(use_awaitable)) ||
      deadline->wait());
  if (raced.index() == 1)
    co_return outcome(FetchEnd::cut, "cannot resolve " + url.endpoint.host + ": no answer in time");
  auto [rec, results] = std::get<0>(std::move(raced));
  if (rec) co_return outcome(FetchEnd::cut, "cannot resolve " + url.endpoint.host + ": " + rec.message());
  tcp::socket socket(ex);
  Activity activity(*options.time);
  // Connect, handshake and the exchange, all under the one watchdog.
  auto session = [&]() -> awaitable<FetchOutcome> {
    // Only the watchdog's close ends it: a cancelled wait could leave a
    // write on the files thread or a journal record half done.
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    auto [cec, endpoint] = co_await asio::async_connect(socket, results, asio::as_tuple(use_awaitable));
    activity.touch();
    if (cec) co_return outcome(FetchEnd::cut, "connect to " + url.endpoint.host + ": " + cec.message());
    socket.set_option(tcp::no_delay(true));
    if (!url.endpoint.tls) co_return co_await exchange(socket, activity, files, options, url, file, location, record);
    asio::ssl::stream<tcp::socket&> tls_stream(socket, *options.tls);
    if (!prepare_tls_session(tls_stream.native_handle(), url.endpoint.host))
      co_return outcome(FetchEnd::failed, "cannot set up TLS name checking for " + url.endpoint.host);
    auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable));
    activity.touch();
    if (hec) {
      const auto reason = verify_failure_reason(tls_stream.native_handle());
      if (!reason.empty())
        co_return outcome(FetchEnd::failed,
                          "TLS certificate verification failed for " + url.endpoint.host + ": " + reason);
      co_return outcome(FetchEnd::cut, "TLS handshake with " + url.endpoint.host + " failed: " + hec.message());
    }
    co_return co_await exchange(tls_stream, activity, files, options, url, file, location, record);
  };
  auto ended = co_await (session() || watchdog(socket, activity, options.timeout, *options.time));
  if (ended.index() == 0) {
    auto out = std::get<0>(std::move(ended));
    if (activity.timed_out && out.end == FetchEnd::cut)
      out.why += " (nothing for " + format_duration(options.timeout) + ")";
    co_return out;
  }
  co_return outcome(FetchEnd::cut, "nothing from " + url.endpoint.host + " for " + format_duration(options.timeout));
}

}  // namespace

namespace {

// NAME already whole and NAME.part gone: the rename happened before a crash
// cut the job short of recording its end.
bool already_in_place(const VideoFile& file) {
  struct stat st {};
  if (::stat(file.part_path().c_str(), &st) == 0) return false;
  if (::stat(file.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  return file.part.total && static_cast<std::uint64_t>(st.st_size) == *file.part.total;
}

}  // namespace

awaitable<FetchOutcome> fetch_video(asio::any_io_executor files, const FetchOptions& options, std::string url,
                                    VideoFile& file, std::function<awaitable<void>(const VideoFile&)> record) {
  if (already_in_place(file)) co_return outcome(FetchEnd::complete, "");
  for (int hop = 0;; ++hop) {
    auto parsed = parse_video_url(url);
    if (!parsed) co_return outcome(FetchEnd::failed, parsed.error().message);
    std::string location;
    auto out = co_await fetch_once(files, options, *parsed, file, location, record);
    if (location.empty()) co_return out;
    if (hop + 1 >= options.max_redirects) co_return outcome(FetchEnd::failed, "too many redirects");
    // Location may be relative to the link it came from.
    auto base = boost::urls::parse_absolute_uri(url);
    auto ref = boost::urls::parse_uri_reference(location);
    if (!base || !ref) co_return outcome(FetchEnd::failed, "a redirect to something that is not a URL");
    boost::urls::url next;
    if (auto r = boost::urls::resolve(*base, *ref, next); !r)
      co_return outcome(FetchEnd::failed, "a redirect that cannot be followed");
    url = std::string(next.buffer());
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

awaitable<FetchOutcome> NetworkVideoFetcher::fetch(const std::string& url, VideoFile& file, Record record) {
  auto loop = co_await asio::this_coro::executor;
  Record on_loop = [loop, record = std::move(record)](const VideoFile& f) { return record_on(loop, record, f); };
  auto there = threads_.next();
  auto work = fetch_video(there, options_, url, file, std::move(on_loop));
  co_return co_await asio::co_spawn(there, std::move(work), use_awaitable);
}

awaitable<Result<FinishedVideo>> finish_video(asio::any_io_executor files, VideoFile& file) {
  co_return co_await on_files(files, [&]() -> Result<FinishedVideo> {
    const auto part = file.part_path();
    const bool renamed = already_in_place(file);  // before a crash cut the job short of recording its end
    const auto& path = renamed ? file.path : part;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return system_failure(errno, "cannot open " + path);
    struct stat st {};
    ::fstat(fd, &st);
    const auto bytes = static_cast<std::uint64_t>(st.st_size);
    if (!renamed && (bytes != file.part.bytes || (file.part.total && bytes != *file.part.total))) {
      ::close(fd);
      return Failure{Errc::invalid_input, part + " holds " + std::to_string(bytes) + " bytes, not the " +
                                              std::to_string(file.part.total.value_or(file.part.bytes)) + " expected"};
    }
    // The digest recorded is of the file as it is: one that covers other
    // bytes (none, after a restart that found the part already whole; a
    // part rewritten under it) is taken again from the disk.
    if (file.hash.bytes() != bytes) {
      std::vector<char> scratch(1 << 20);
      if (const int e = hash_prefix(fd, bytes, file.hash, scratch); e != 0) {
        ::close(fd);
        return system_failure(e, "cannot read " + path + " back");
      }
    }
    const int rc = renamed ? 0 : ::fsync(fd);
    const int sync_errno = errno;
    ::close(fd);
    if (rc != 0) return system_failure(sync_errno, "cannot sync " + part);
    if (!renamed) {
      if (::rename(part.c_str(), file.path.c_str()) != 0) return system_failure(errno, "cannot rename " + part);
      try {
        sync_directory(fs::path(file.path).parent_path().string());
      } catch (const std::system_error& e) {
        return system_failure(e.code().value(), e.what());
      }
    }
    return FinishedVideo{file.path, bytes, file.hash.hex()};
  });
}

}  // namespace exportd
