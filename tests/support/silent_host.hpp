#pragma once

// A host that accepts one connection, reads a request, sends `reply` (maybe
// nothing) and then says nothing more until it is destroyed: the silent
// host both HTTP clients must cut at their timeout.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace exportd::testing {

namespace asio = boost::asio;

class SilentHost {
 public:
  explicit SilentHost(std::string reply) : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, reply = std::move(reply)] {
      asio::ip::tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec) return;
      asio::streambuf request;
      asio::read_until(s, request, "\r\n\r\n", ec);
      if (!reply.empty()) asio::write(s, asio::buffer(reply), ec);
      heard_ = true;
      std::unique_lock lock(mutex_);
      done_.wait(lock, [this] { return stop_; });
    });
  }
  ~SilentHost() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    done_.notify_all();
    boost::system::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool heard() const { return heard_; }  // the request came (and the reply went)

 private:
  std::atomic<bool> heard_{false};
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable done_;
  bool stop_ = false;
};

}  // namespace exportd::testing
