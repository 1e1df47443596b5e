#pragma once

// The simulator's state and its parts, shared by the files that build it
// side by side (tests/simulator): sim_api.cpp answers the API's calls,
// sim_hooks.cpp calls jobs' webhooks, simulator.cpp serves connections
// (plain and TLS) and the videos. Internal: only these files include it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>

#include "progress_shapes.hpp"
#include "simulator.hpp"

namespace exportd::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using SteadyTime = std::chrono::steady_clock::time_point;

inline constexpr std::string_view api = "/api/odin/v3";

struct Export {
  std::string project_id;  // the project it belongs to
  SteadyTime started;
  std::chrono::system_clock::time_point started_wall;
  Millis duration;
  bool alt_url_field;
  std::string name;
  Curve curve;
  std::uint64_t video_bytes = 0;
};

// A download link handed out at 100 %.
struct Link {
  std::string id;  // the polled id whose video it is
  SteadyTime minted;
  bool dead = false;  // link_expired: refused whenever used
};

inline std::int64_t wall_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct Simulator::State {
  Knobs knobs;
  Stats stats;
  std::mt19937_64 rng;
  std::unordered_map<std::string, SteadyTime> tokens;           // token -> issued
  std::unordered_map<std::string, Export> exports;              // polled id -> export
  std::unordered_map<std::string, std::uint32_t> export_count;  // project id -> exports started
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, Link> links;  // ?link= number -> link
  std::uint64_t next_link = 1;
  SteadyTime started = std::chrono::steady_clock::now();
  std::int64_t second = -1;     // the wall-clock second being counted
  std::uint64_t in_second = 0;  // API calls in it
  tcp::acceptor acceptor;
  std::unique_ptr<asio::ssl::context> tls;
  std::shared_ptr<asio::ssl::context> hook_tls;  // client side, for https:// hook URLs

  bool close_after_reply = false;  // the reply to the request just handled is never sent (create_garble "drop")
  std::uint64_t garbles = 0;       // garbled creates so far ("mixed" takes each kind in turn)

  State(asio::io_context& io, Knobs k);
  // A name as the API stores (and lists) it, under the name knobs.
  std::string stored_name(std::string name) const;
  // exportd's tag in a create's name ("exportd-" and 16 hex digits), or "".
  static std::string tag_in(const std::string& name);
  // The reply to a create that took effect, garbled as create_garble says.
  http::response<http::string_body> garbled_create(const http::request<http::string_body>& req);
  double roll();
  std::string new_token();
  http::response<http::string_body> reply(const http::request<http::string_body>& req, http::status status,
                                          json::value body, std::string content_type = "application/json");
  http::response<http::string_body> ok(const http::request<http::string_body>& req, json::object data);
  http::response<http::string_body> fail(const http::request<http::string_body>& req, http::status status,
                                         json::value code, std::string msg);
  // Empty optional: the token is fine.
  std::optional<http::response<http::string_body>> check_auth(const http::request<http::string_body>& req);
  // One call of a job's webhook, `after` from now.
  awaitable<void> call_hook(std::string url, Millis after, http::verb method, json::object fields);
  http::verb hook_verb();
  // What the API is (we think) going to do with a webhookUrl.
  void schedule_hooks(const std::string& polled, const std::string& url, const Export& e);
  Export start_export(const std::string& project_id, std::string name);
  http::response<http::string_body> submit_reply(const http::request<http::string_body>& req);
  json::object progress_of(const std::string& id, const Export& e);
  std::string mint_link(const std::string& id, const Export& e);
  // GET /videos/<id>.mp4?link=N: the video, whole or from a range, streamed
  // in pieces (never held whole), cut off, throttled or refused as the knobs say.
  template <class Stream>
  awaitable<bool> serve_video(Stream& stream, const http::request<http::string_body>& req);
  http::response<http::string_body> handle(const http::request<http::string_body>& req);
  bool in_outage() const;
  // Counts the call in its wall-clock second; true if it goes over rate_limit.
  bool over_rate();
  enum class Fault { none, drop, drop_after, html, throttle, unavailable, slow };
  Fault pick_fault(const http::request<http::string_body>& req);
  std::string retry_after_value();
  template <class Stream>
  awaitable<void> serve(Stream& stream);
  awaitable<void> session(tcp::socket socket);
  awaitable<void> accept_loop();
};

}  // namespace exportd::sim
