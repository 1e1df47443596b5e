#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "error/error.hpp"

namespace exportd {

// Where the API lives: parsed once from api.base_url.
struct ApiEndpoint {
  bool tls = true;
  std::string host;  // as written, without brackets for IPv6
  std::uint16_t port = 443;
  std::string base_path;  // "" or "/prefix" without trailing slash

  // The value of the Host header: host, plus :port when not the default.
  std::string host_header() const;
  std::string target(std::string_view path) const { return base_path + std::string(path); }
};

// True for localhost, 127.0.0.0/8 and ::1.
bool is_loopback_host(std::string_view host);

// An absolute http(s) URL read into where it points (Errc::invalid_input
// saying why not): scheme, host and port in `endpoint` (no base_path), and
// the encoded path and query. Plain http is refused unless the host is
// loopback: whatever it carries would otherwise cross the network in clear.
struct WebUrl {
  ApiEndpoint endpoint;
  std::string path;   // encoded; "" for none
  std::string query;  // encoded, without '?'; "" for none
  bool has_query = false;
  bool has_fragment = false;
  bool has_userinfo = false;
};
Result<WebUrl> parse_web_url(std::string_view url);

// An API base URL: a WebUrl with no user info, query or fragment; its path
// is the base path every request goes below.
Result<ApiEndpoint> parse_endpoint(std::string_view url);

}  // namespace exportd
