#pragma once

// One video download at a time, as the engine drives them (SPEC §10): a
// fixture that runs single tries of fetch_video and finish_video to their
// end on a loop of its own, each bounded, and keeps what the journal would.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "download/fetch.hpp"
#include "http/tls.hpp"

namespace exportd {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Download : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("exportd-download-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.timeout = 10s;
    options_.buffer_bytes = 64 * 1024;
    options_.tls = make_client_tls_context("");
    options_.root = DownloadRoot::open(dir_.string()).value();
    options_.time = &real_time();  // the hosts here are real; TheSilenceTimeoutKeepsTheInjectedClock sets a manual one
  }
  void TearDown() override { fs::remove_all(dir_); }

  // One try of `file` from `url`, run to its end (bounded: 60 s).
  FetchOutcome fetch(const std::string& url, VideoFile& file) { return fetch(url, file, options_.time->now() + 24h); }
  FetchOutcome fetch(const std::string& url, VideoFile& file, TimePoint deadline) {
    std::optional<FetchOutcome> out;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          out = co_await fetch_video(files_.get_executor(), options_, url, file, deadline,
                                     [this](const VideoFile& f) -> asio::awaitable<void> {
                                       recorded_.push_back({f.part.validator, f.part.total, f.checkpoint});
                                       co_return;
                                     });
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run_for(60s);
    EXPECT_TRUE(out.has_value()) << "the try did not end within 60 s";
    return out.value_or(FetchOutcome{});
  }
  Result<FinishedVideo> finish(VideoFile& file) {
    std::optional<Result<FinishedVideo>> out;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> { out = co_await finish_video(files_.get_executor(), *options_.root, file); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run_for(60s);
    EXPECT_TRUE(out.has_value());
    return out.value_or(Failure{Errc::invalid_input, "did not finish"});
  }
  // Tries until the file is whole (as the engine would, without the waits).
  int fetch_until_complete(const std::string& url, VideoFile& file, int limit = 50) {
    for (int tries = 1; tries <= limit; ++tries) {
      const auto out = fetch(url, file);
      if (out.end == FetchEnd::complete) return tries;
      EXPECT_TRUE(out.end == FetchEnd::cut || out.end == FetchEnd::retry_later) << out.why;
    }
    return -1;
  }

  asio::io_context io_;
  asio::thread_pool files_{1};
  FetchOptions options_;
  fs::path dir_;
  // What the journal would hold of the download, record by record.
  struct Recorded {
    std::string validator;
    std::optional<std::uint64_t> total;
    Checkpoint checkpoint;
  };
  std::vector<Recorded> recorded_;
  // One try of `url` into dir_/name that the host cuts short: the part it leaves.
  VideoFile cut_once(const std::string& url, const std::string& name) {
    VideoFile f;
    f.path = (dir_ / name).string();
    const auto out = fetch(url, f);
    EXPECT_EQ(out.end, FetchEnd::cut) << out.why;
    EXPECT_GT(f.part.bytes, 0u) << "the cut try left nothing";
    return f;
  }
  // A restarted daemon's view of `path`: the latest record, nothing else.
  VideoFile restarted(const std::string& path) const {
    VideoFile f;
    f.path = path;
    const auto& r = recorded_.back();
    adopt_partial_file(f, r.validator, r.total, r.checkpoint);
    return f;
  }
};

}  // namespace exportd
