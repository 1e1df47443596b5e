#include "download/download_threads.hpp"

#include <algorithm>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace exportd {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

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

}  // namespace exportd
