#pragma once

// The I/O of a video download (SPEC §10): one request to the video host,
// its body streamed through a fixed buffer into NAME.part with SHA-256
// computed on the way, and the rename into place once it is whole. What to
// ask for and what a reply means is decided in resume.hpp; whether and when
// to try again, by the caller.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api/endpoint.hpp"
#include "config/settings.hpp"
#include "download/download_root.hpp"
#include "download/resume.hpp"
#include "error/error.hpp"
#include "ops/digest.hpp"
#include "schedule/engine_time.hpp"
#include "time/duration.hpp"

namespace exportd {

// A link that may be fetched: https, or http to a loopback host; no user
// info; a port from 1 to 65535.
struct VideoUrl {
  ApiEndpoint endpoint;  // scheme, host and port
  std::string target;    // path and query, as sent
};
Result<VideoUrl> parse_video_url(std::string_view url);

// Why a redirect from `from` to `to` is not followed ("" when it is): never
// from https to http, never from a host that is not loopback to one that
// is (a video host must not point exportd at this machine's own services).
std::string redirect_refusal(const VideoUrl& from, const VideoUrl& to);

struct FetchOptions {
  Millis timeout{30'000};  // to connect and get a reply's head; and the longest silence mid-body (any byte counts)
  std::shared_ptr<boost::asio::ssl::context> tls;  // verifies the peer (make_client_tls_context)
  std::shared_ptr<const DownloadRoot> root;        // download.dir: every file is reached below it, no link followed
  std::size_t buffer_bytes = 256 * 1024;           // the buffer a download streams through
  int max_redirects = 5;
  std::uint64_t max_bytes = default_max_video_bytes;  // a longer video is refused (download.max_bytes)
  // How many bytes may come between two checkpoints (the part's length and
  // digest journaled): what a restart after a kill may fetch again.
  std::uint64_t checkpoint_bytes = 16ull << 20;
  // ... or once this much time has passed with at least a MiB more: a video
  // smaller than checkpoint_bytes still resumes after a kill.
  Millis checkpoint_every{1'000};
  // The clock the timeouts are read on and waited for (a manual one in
  // tests). Its alarms are made on the thread the try runs on.
  EngineTime* time = &real_time();
};

// A download under way: NAME.part beside NAME.
struct VideoFile {
  std::string path;  // NAME, absolute, below download.dir
  PartialFile part;
  // Of the first hash.bytes() bytes of NAME.part: all of them while they
  // stream in; none after a restart, until NAME.part is checked.
  Sha256 hash;
  Checkpoint checkpoint;  // the latest the journal holds
  std::uint64_t most = 0;  // the most NAME.part has held in this run: a try moves on only past it
  bool in_place = false;   // NAME is whole already (renamed before a crash), its digest checked
  std::string part_path() const { return path + ".part"; }
};

struct FetchOutcome {
  FetchEnd end = FetchEnd::failed;
  std::string why;             // in words, for the log and a failed job's error
  std::uint64_t received = 0;  // body bytes written to NAME.part by this try
  std::string discarded;       // what was found wrong with the bytes on disk and thrown away ("" = nothing)
};

// Fills in `file.part` from what the journal recorded: the validator, the
// length and the latest checkpoint (empty, nullopt, {}: none). The part is
// checked against the checkpoint by the next try, before it asks for more.
void adopt_partial_file(VideoFile& file, std::string validator, std::optional<std::uint64_t> total,
                        Checkpoint checkpoint);

// One try: asks `url` for what NAME.part still lacks and writes what comes,
// until `deadline` at the latest (the part is kept). `record` is awaited
// once a reply's head says where its bytes go, before the first one is
// written (the journal keeps the validator then), and at each checkpoint.
// Blocking file work runs on `files`.
boost::asio::awaitable<FetchOutcome> fetch_video(boost::asio::any_io_executor files, const FetchOptions& options,
                                                 std::string url, VideoFile& file, TimePoint deadline,
                                                 std::function<boost::asio::awaitable<void>(const VideoFile&)> record);

struct FinishedVideo {
  std::string path;
  std::uint64_t bytes = 0;
  std::string sha256;  // hex
};

// A whole NAME.part into place below `root`: fsync, rename to NAME, fsync of
// the folder. Checks the length against what the server said.
boost::asio::awaitable<Result<FinishedVideo>> finish_video(boost::asio::any_io_executor files,
                                                           const DownloadRoot& root, VideoFile& file);

// What the engine downloads through: the network (NetworkVideoFetcher), or
// a scripted fake in tests.
class VideoFetcher {
 public:
  using Record = std::function<boost::asio::awaitable<void>(const VideoFile&)>;
  virtual ~VideoFetcher() = default;
  virtual boost::asio::awaitable<FetchOutcome> fetch(const std::string& url, VideoFile& file, TimePoint deadline,
                                                     Record record) = 0;
  virtual boost::asio::awaitable<Result<FinishedVideo>> finish(VideoFile& file) = 0;
};

// The threads downloads run on: an io_context each, so one download's
// socket, writes and hashing stay on one thread and need no strand. Stopped
// and joined on destruction.
class DownloadThreads {
 public:
  explicit DownloadThreads(std::size_t count);
  ~DownloadThreads();
  DownloadThreads(const DownloadThreads&) = delete;
  DownloadThreads& operator=(const DownloadThreads&) = delete;
  // The next thread's executor, in turn.
  boost::asio::any_io_executor next();

 private:
  struct Thread;
  std::vector<std::unique_ptr<Thread>> threads_;
  std::size_t next_ = 0;
};

// Each try runs whole on one of its download threads: socket, writes and
// hashing together, off the event loop; `record` is carried out back on the
// caller's executor. `file` is the caller's, untouched by the caller until
// the try ends.
class NetworkVideoFetcher final : public VideoFetcher {
 public:
  NetworkVideoFetcher(FetchOptions options, std::size_t threads = 2)
      : threads_(threads), options_(std::move(options)) {}
  boost::asio::awaitable<FetchOutcome> fetch(const std::string& url, VideoFile& file, TimePoint deadline,
                                             Record record) override;
  boost::asio::awaitable<Result<FinishedVideo>> finish(VideoFile& file) override {
    return finish_video(threads_.next(), *options_.root, file);
  }

 private:
  DownloadThreads threads_;
  FetchOptions options_;
};

}  // namespace exportd
