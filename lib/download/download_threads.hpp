#pragma once

// Where downloads run: threads of their own, off the event loop, so one
// download's socket, writes and hashing stay on one thread and need no
// strand; and the network fetcher the engine downloads through.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "download/fetch.hpp"
#include "schedule/engine_time.hpp"

namespace exportd {

// The threads downloads run on: an io_context each. Stopped and joined on
// destruction.
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
// the try ends. Timeouts are kept on `time`.
class NetworkVideoFetcher final : public VideoFetcher {
 public:
  NetworkVideoFetcher(FetchOptions options, EngineTime& time, std::size_t threads)
      : threads_(threads), options_(std::move(options)) {
    options_.time = &time;
  }
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
