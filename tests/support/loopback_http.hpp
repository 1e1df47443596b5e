#pragma once

// One HTTP/1.1 request to a server of exportd's on 127.0.0.1 (the webhook
// receiver, /metrics), as a client of ours would send it; 10 s at most.

#include <cstdint>
#include <string>
#include <utility>

#include <boost/beast/http/verb.hpp>

namespace exportd::testing {

struct LoopbackReply {
  bool answered = false;  // a whole reply came back
  int status = 0;
  std::string content_type;
  std::string body;
  std::string content_length;  // the field as sent ("": none)
};

LoopbackReply loopback_request(std::uint16_t port, boost::beast::http::verb method, const std::string& target,
                               const std::string& body = {});

// HEAD then GET of `target`, one after the other on one kept-alive
// connection: a body sent after the HEAD's head spoils the GET's reply.
std::pair<LoopbackReply, LoopbackReply> loopback_head_then_get(std::uint16_t port, const std::string& target);

}  // namespace exportd::testing
