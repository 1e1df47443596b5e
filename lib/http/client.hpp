#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api/transport.hpp"
#include "ops/metrics.hpp"
#include "schedule/clock.hpp"
#include "schedule/engine_time.hpp"
#include "schedule/signal.hpp"
#include "time/duration.hpp"

namespace exportd {

// An HTTP/1.1 client for one API host, shared by all jobs: a pool of at most
// `max_connections` kept-alive connections (plain or TLS, http/connection.hpp),
// handed out one exchange at a time; callers beyond that wait for one to come
// free. Every exchange has one budget (api.request_timeout) covering connect,
// handshake, write and read, kept on the injected EngineTime.
class HttpClient final : public Transport {
 public:
  struct Options {
    ApiEndpoint endpoint;
    Millis timeout{30'000};
    std::size_t max_connections = 8;
    std::shared_ptr<boost::asio::ssl::context> tls;  // required when endpoint.tls
    std::size_t body_limit = 16 * 1024 * 1024;
    Millis idle_limit{15'000};  // close a kept-alive connection unused this long
  };

  HttpClient(boost::asio::any_io_executor ex, Options options, EngineTime& time);
  ~HttpClient() override;

  boost::asio::awaitable<ApiResult<HttpReply>> exchange(const ApiRequest& request, std::string_view token) override;

  std::uint64_t connections_opened() const { return connections_opened_; }
  // Every request written, a stale connection's resend included, is counted
  // into `metrics` by call and outcome from now on (SPEC §11).
  void count_into(Metrics& metrics) { metrics_ = &metrics; }
  // A new pool size (SIGHUP): idle connections beyond it are closed now,
  // busy ones when they come back.
  void set_max_connections(std::size_t n);

  struct Attempt;  // the outcome of one try on one connection (client.cpp)

 private:
  struct Pooled;  // a connection and when it was last used

  boost::asio::awaitable<std::unique_ptr<Pooled>> acquire();
  std::unique_ptr<Pooled> fresh() const;
  void release(std::unique_ptr<Pooled> conn, bool keep);
  boost::asio::awaitable<Attempt> attempt(Pooled& conn, const ApiRequest& request, std::string_view token);

  boost::asio::any_io_executor ex_;
  Options options_;
  EngineTime& time_;
  std::vector<std::unique_ptr<Pooled>> idle_;
  std::size_t open_ = 0;  // connections in use or idle
  Signal released_;
  std::uint64_t connections_opened_ = 0;
  Metrics* metrics_ = nullptr;
};

}  // namespace exportd
