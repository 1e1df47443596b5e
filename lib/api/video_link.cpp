#include "api/video_link.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "text/safe_text.hpp"

namespace exportd {

Result<VideoUrl> parse_video_url(std::string_view url) {
  if (url.size() > max_url_bytes) return Failure{Errc::invalid_input, "the download link is too long"};
  auto web = parse_web_url(url);
  if (!web) return Failure{Errc::invalid_input, "the download link: " + web.error().message};
  if (web->has_userinfo) return Failure{Errc::invalid_input, "the download link carries user info"};
  VideoUrl v{web->endpoint, web->path.empty() ? "/" : web->path};
  if (web->has_query) v.target += "?" + web->query;
  if (!is_token_text(v.target, max_url_bytes))
    return Failure{Errc::invalid_input, "the download link's path cannot be sent"};
  return v;
}

std::string redirect_refusal(const VideoUrl& from, const VideoUrl& to) {
  if (from.endpoint.tls && !to.endpoint.tls) return "a redirect from https to plain http is not followed";
  if (!is_loopback_host(from.endpoint.host) && is_loopback_host(to.endpoint.host))
    return "a redirect from " + from.endpoint.host + " to a loopback host (" + to.endpoint.host + ") is not followed";
  return "";
}

Result<std::string> redirect_target(std::string_view from, std::string_view location) {
  auto base = boost::urls::parse_absolute_uri(from);
  auto ref = boost::urls::parse_uri_reference(location);
  if (!base || !ref) return Failure{Errc::invalid_input, "a redirect to something that is not a URL"};
  boost::urls::url next;
  if (auto r = boost::urls::resolve(*base, *ref, next); !r)
    return Failure{Errc::invalid_input, "a redirect that cannot be followed"};
  return std::string(next.buffer());
}

}  // namespace exportd
