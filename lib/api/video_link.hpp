#pragma once

// The one rule for a video's download link (SPEC §10), used where a
// progress reply is read (a link that breaks it makes the reply malformed)
// and where the fetch starts and follows a redirect: https, or http to a
// loopback host; no user info; a port from 1 to 65535; a path that can be
// sent as it is.

#include <string>
#include <string_view>

#include "api/endpoint.hpp"
#include "error/error.hpp"

namespace exportd {

struct VideoUrl {
  ApiEndpoint endpoint;  // scheme, host and port
  std::string target;    // path and query, as sent
};
// Errc::invalid_input saying why the link cannot be fetched.
Result<VideoUrl> parse_video_url(std::string_view url);

// Why a redirect from `from` to `to` is not followed ("" when it is): never
// from https to http, never from a host that is not loopback to one that
// is (a video host must not point exportd at this machine's own services).
std::string redirect_refusal(const VideoUrl& from, const VideoUrl& to);

// A Location header read against the link it came from (it may be
// relative): the absolute link to follow, or why not.
Result<std::string> redirect_target(std::string_view from, std::string_view location);

}  // namespace exportd
