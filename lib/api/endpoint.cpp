#include "api/endpoint.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

namespace exportd {

std::string ApiEndpoint::host_header() const {
  const bool default_port = (tls && port == 443) || (!tls && port == 80);
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  return default_port ? h : h + ":" + std::to_string(port);
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && addr.is_loopback();
}

Result<WebUrl> parse_web_url(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return Failure{Errc::invalid_input, "'" + std::string(url) + "' is not an absolute URL"};
  WebUrl out;
  auto& ep = out.endpoint;
  const auto scheme = parsed->scheme();
  if (scheme == "https")
    ep.tls = true;
  else if (scheme == "http")
    ep.tls = false;
  else
    return Failure{Errc::invalid_input, "the URL must start with https:// (or http:// for a loopback host)"};
  ep.host =
      parsed->host_name().empty() ? std::string(parsed->encoded_host_address()) : std::string(parsed->host_name());
  if (!ep.host.empty() && ep.host.front() == '[') ep.host = ep.host.substr(1, ep.host.size() - 2);
  if (ep.host.empty()) return Failure{Errc::invalid_input, "the URL has no host"};
  if (parsed->has_port() && !parsed->port().empty()) {
    // Read from the text: port_number() keeps only the low 16 bits, so
    // :65616 would reach port 80.
    const auto text = parsed->port();
    unsigned long p = 0;
    const bool digits = text.size() <= 5 && text.find_first_not_of("0123456789") == std::string_view::npos;
    if (digits) p = std::stoul(std::string(text));
    if (!digits || p == 0 || p > 65535)
      return Failure{Errc::invalid_input, "the URL's port must be a number from 1 to 65535"};
    ep.port = static_cast<std::uint16_t>(p);
  } else {
    ep.port = ep.tls ? 443 : 80;
  }
  if (!ep.tls && !is_loopback_host(ep.host))
    return Failure{Errc::invalid_input, "http:// is refused for '" + ep.host +
                                            "': use https:// (plain http is only allowed for loopback hosts)"};
  out.path = std::string(parsed->encoded_path());
  // After an authority the path is empty or starts with '/' (RFC 3986
  // §3.3); Boost.URL reads "h:-1/v" as port "" and path "-1/v".
  if (!out.path.empty() && out.path.front() != '/')
    return Failure{Errc::invalid_input, "the URL's port must be a number from 1 to 65535"};
  out.query = std::string(parsed->encoded_query());
  out.has_query = parsed->has_query();
  out.has_fragment = parsed->has_fragment();
  out.has_userinfo = parsed->has_userinfo();
  return out;
}

Result<ApiEndpoint> parse_endpoint(std::string_view url) {
  auto web = parse_web_url(url);
  if (!web) return web.error();
  if (web->has_userinfo || web->has_query || web->has_fragment)
    return Failure{Errc::invalid_input, "base_url must not carry user info, a query or a fragment"};
  ApiEndpoint ep = web->endpoint;
  std::string path = std::move(web->path);
  while (!path.empty() && path.back() == '/') path.pop_back();
  ep.base_path = path;
  return ep;
}

}  // namespace exportd
