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

#include "config/settings.hpp"
#include "download/download_root.hpp"
#include "download/part_file.hpp"
#include "jobs/resume.hpp"
#include "error/error.hpp"
#include "schedule/engine_time.hpp"
#include "time/duration.hpp"

namespace exportd {

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
  // The clock the timeouts are read on and waited for: the daemon's wiring
  // gives the real one, a test a manual one. Its alarms are made on the
  // thread the try runs on.
  EngineTime* time = nullptr;
};

// What ended a try, as a type (its words are in FetchOutcome::why).
enum class FetchCause : std::uint8_t {
  none,         // nothing went wrong: whole, in place, or a redirect to follow
  cut,          // the connection closed or failed part-way
  silent,       // nothing from the host for the fetch timeout
  deadline,     // the job's deadline (polling.job_timeout) came
  unreachable,  // the name did not resolve, or the host refused the connection
  tls_verify,   // the host's certificate did not verify
  link,         // the link or a redirect cannot be fetched (scheme, port, loopback, too many hops)
  reply,        // the reply's status or headers said so (resume.hpp's verdict)
  too_long,     // longer than download.max_bytes
  disk_full,    // NAME.part could not grow: no space (or quota) left
  changed,      // NAME.part changed under the download (shorter than it left it): starting over
  local,        // a local file error: NAME not a regular file, a link below download.dir, cannot open
};

struct FetchOutcome {
  FetchEnd end = FetchEnd::failed;
  FetchCause cause = FetchCause::none;
  std::string why;             // in words, for the log and a failed job's error
  std::uint64_t received = 0;  // body bytes written to NAME.part by this try
  std::string discarded;       // what was found wrong with the bytes on disk and thrown away ("" = nothing)
};

// One try: asks `url` for what NAME.part still lacks and writes what comes,
// until `deadline` at the latest (the part is kept). `record` is awaited
// once a reply's head says where its bytes go, before the first one is
// written (the journal keeps the validator then), and at each checkpoint.
// Blocking file work runs on `files`.
boost::asio::awaitable<FetchOutcome> fetch_video(boost::asio::any_io_executor files, const FetchOptions& options,
                                                 std::string url, VideoFile& file, TimePoint deadline,
                                                 std::function<boost::asio::awaitable<void>(const VideoFile&)> record);

// finish_part (part_file.hpp) run on `files`.
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

}  // namespace exportd
