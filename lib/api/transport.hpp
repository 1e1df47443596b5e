#pragma once

#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "api/wire.hpp"

namespace exportd {

// One HTTP exchange with the API: the seam between the core and the network.
// The real one is HttpClient; tests script replies through their own.
class Transport {
 public:
  virtual ~Transport() = default;
  // `token` is sent as the Authorization header when the request is authorized.
  virtual boost::asio::awaitable<ApiResult<HttpReply>> exchange(const ApiRequest& request, std::string_view token) = 0;
};

}  // namespace exportd
