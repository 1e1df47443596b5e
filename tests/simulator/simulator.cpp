#include "simulator.hpp"

#include "videos.hpp"

#include <ctime>
#include <future>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace exportd::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr std::string_view api = "/api/odin/v3";

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

std::int64_t wall_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct Simulator::State {
  Knobs knobs;
  Stats stats;
  std::mt19937_64 rng;
  std::unordered_map<std::string, SteadyTime> tokens;  // token -> issued
  std::unordered_map<std::string, Export> exports;     // polled id -> export
  std::unordered_map<std::string, std::uint32_t> export_count;  // project id -> exports started
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, Link> links;  // ?link= number -> link
  std::uint64_t next_link = 1;
  SteadyTime started = std::chrono::steady_clock::now();
  std::int64_t second = -1;          // the wall-clock second being counted
  std::uint64_t in_second = 0;       // API calls in it
  tcp::acceptor acceptor;
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<asio::ssl::context> hook_tls;  // client side, for https:// hook URLs

  bool close_after_reply = false;  // the reply to the request just handled is never sent (create_garble "drop")
  std::uint64_t garbles = 0;        // garbled creates so far ("mixed" takes each kind in turn)

  State(asio::io_context& io, Knobs k) : knobs(std::move(k)), rng(knobs.seed), acceptor(io) {
    // Others' projects, older than anything exportd makes: a list with seed_projects is longer than a page.
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < knobs.seed_projects; ++i) {
      const auto id = "old" + std::to_string(i);
      exports.emplace(id, Export{id, now - std::chrono::hours(2) + Millis(static_cast<Millis::rep>(i)),
                                 std::chrono::system_clock::now() - std::chrono::hours(2), Millis(1000), false,
                                 "Someone's project " + std::to_string(i), draw_curve(Shape::linear, 1000.0, rng), 1});
    }
  }

  // A name as the API stores (and lists) it, under the name knobs.
  std::string stored_name(std::string name) const {
    if (knobs.name_html_escaped) {
      std::string out;
      for (char c : name) {
        switch (c) {
          case '&': out += "&amp;"; break;
          case '<': out += "&lt;"; break;
          case '>': out += "&gt;"; break;
          case '"': out += "&quot;"; break;
          case '\'': out += "&#39;"; break;
          default: out += c;
        }
      }
      name = std::move(out);
    }
    if (knobs.name_squeezed) {
      std::string out;
      for (char c : name)
        if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
      while (!out.empty() && out.back() == ' ') out.pop_back();
      name = std::move(out);
    }
    if (knobs.name_max > 0 && name.size() > knobs.name_max) name.resize(knobs.name_max);
    return name;
  }

  // exportd's tag in a create's name ("exportd-" and 16 hex digits), or "".
  static std::string tag_in(const std::string& name) {
    const auto at = name.find("exportd-");
    if (at == std::string::npos || at + 24 > name.size()) return "";
    return name.substr(at, 24);
  }

  // The reply to a create that took effect, garbled as create_garble says.
  http::response<http::string_body> garbled_create(const http::request<http::string_body>& req) {
    ++stats.garbled_creates;
    static const std::string kinds[] = {"html", "cut", "500", "drop"};
    const auto kind = knobs.create_garble == "mixed" ? kinds[garbles++ % 4] : knobs.create_garble;
    if (kind == "drop") close_after_reply = true;
    if (kind == "cut") return reply(req, http::status::ok, json::string(R"({"success":true,"data":{"projectId":"pr)"));
    if (kind == "500")
      return reply(req, http::status::internal_server_error, json::string("<html>500 Internal Server Error</html>"),
                   "text/html");
    return reply(req, http::status::ok, json::string("<html><body>Welcome to the editor</body></html>"), "text/html");
  }

  double roll() { return std::uniform_real_distribution<double>(0, 1)(rng); }

  std::string new_token() {
    static constexpr char hex[] = "0123456789abcdef";
    std::string t;
    for (std::size_t i = 0; i < knobs.token_length; ++i) t += hex[rng() % 16];
    return t.substr(0, t.size() / 2) + knobs.token_extra + t.substr(t.size() / 2);
  }

  http::response<http::string_body> reply(const http::request<http::string_body>& req, http::status status,
                                          json::value body, std::string content_type = "application/json") {
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, "aistudios-sim");
    res.set(http::field::content_type, content_type);
    res.keep_alive(req.keep_alive());
    res.body() = body.is_string() ? std::string(body.as_string()) : json::serialize(body);
    res.prepare_payload();
    return res;
  }
  http::response<http::string_body> ok(const http::request<http::string_body>& req, json::object data) {
    return reply(req, http::status::ok, json::object{{"success", true}, {"data", std::move(data)}});
  }
  http::response<http::string_body> fail(const http::request<http::string_body>& req, http::status status,
                                         json::value code, std::string msg) {
    msg = knobs.message_prefix + msg;
    if (knobs.echo_body_in_errors) msg += " (request: " + req.body() + ")";
    if (msg.size() < knobs.error_message_bytes) msg.append(knobs.error_message_bytes - msg.size(), 'x');
    return reply(req, status,
                 json::object{{"success", false}, {"error", json::object{{"code", code}, {"msg", std::move(msg)}}}});
  }

  // Empty optional: the token is fine.
  std::optional<http::response<http::string_body>> check_auth(const http::request<http::string_body>& req) {
    auto it = req.find(http::field::authorization);
    std::string token = it == req.end() ? "" : std::string(it->value());
    if (token.rfind("Bearer ", 0) == 0) ++stats.auth_header_with_bearer;
    auto t = tokens.find(token);
    const auto now = std::chrono::steady_clock::now();
    if (t != tokens.end() && now - t->second < knobs.token_lifetime) return std::nullopt;
    ++stats.unauthorized;
    if (knobs.expired_as_200) return fail(req, http::status::ok, "TokenExpired", "the token has expired");
    return fail(req, http::status::unauthorized, 401, "invalid or expired token");
  }

  // One call of a job's webhook, `after` from now.
  awaitable<void> call_hook(std::string url, Millis after, http::verb method, json::object fields) {
    asio::steady_timer wait(acceptor.get_executor(), after);
    co_await wait.async_wait(asio::as_tuple(use_awaitable));
    ++stats.hooks_sent;
    auto u = boost::urls::parse_uri(url);
    if (!u) {
      ++stats.hooks_failed;
      co_return;
    }
    const bool https = u->scheme() == "https";
    const std::string host(u->host());
    const std::string port = u->has_port() ? std::string(u->port()) : (https ? "443" : "80");
    std::string target(u->encoded_path());
    if (method == http::verb::get) {
      std::string q;
      for (const auto& [k, v] : fields) {
        q += (q.empty() ? "?" : "&") + std::string(k) + "=";
        q += v.is_string() ? std::string(v.as_string()) : json::serialize(v);
      }
      target += q;
    }
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host);
    if (method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = json::serialize(fields);
    }
    req.prepare_payload();
    tcp::resolver resolver(acceptor.get_executor());
    auto [rec, results] = co_await resolver.async_resolve(host, port, asio::as_tuple(use_awaitable));
    if (rec) {
      ++stats.hooks_failed;
      co_return;
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    boost::system::error_code ec;
    if (https) {
      if (!hook_tls) {
        hook_tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
        hook_tls->set_verify_mode(asio::ssl::verify_peer);
        if (!knobs.hook_ca_file.empty()) hook_tls->load_verify_file(knobs.hook_ca_file);
      }
      beast::ssl_stream<beast::tcp_stream> stream(acceptor.get_executor(), *hook_tls);
      SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
      stream.set_verify_callback(asio::ssl::host_name_verification(host));
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
      std::tie(ec, std::ignore) = co_await beast::get_lowest_layer(stream).async_connect(results, asio::as_tuple(use_awaitable));
      if (!ec) std::tie(ec) = co_await stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(use_awaitable));
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_write(stream, req, asio::as_tuple(use_awaitable));
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, res, asio::as_tuple(use_awaitable));
    } else {
      beast::tcp_stream stream(acceptor.get_executor());
      stream.expires_after(std::chrono::seconds(10));
      std::tie(ec, std::ignore) = co_await stream.async_connect(results, asio::as_tuple(use_awaitable));
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_write(stream, req, asio::as_tuple(use_awaitable));
      if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, res, asio::as_tuple(use_awaitable));
    }
    if (ec) ++stats.hooks_failed;
    else if (res.result_int() / 100 == 2) ++stats.hooks_ok;
    else ++stats.hooks_refused;
  }

  http::verb hook_verb() {
    if (knobs.hook_method == "GET") return http::verb::get;
    if (knobs.hook_method == "mixed") return roll() < 0.5 ? http::verb::get : http::verb::post;
    return http::verb::post;
  }

  // What the API is (we think) going to do with a webhookUrl.
  void schedule_hooks(const std::string& polled, const std::string& url, const Export& e) {
    if (url.empty()) return;
    const auto spawn = [&](Millis after, json::object fields) {
      asio::co_spawn(acceptor.get_executor(), call_hook(url, after, hook_verb(), std::move(fields)), asio::detached);
    };
    const auto half = Millis(e.duration.count() / 2);
    if (roll() < knobs.hook_midway)
      spawn(half, {{"progress", std::floor(e.curve.at(static_cast<double>(half.count())))}, {"backendTaskId", polled}});
    if (roll() < knobs.hook_false_finish)
      spawn(half, {{"progress", 100}, {"download_url", "https://evil.example/" + polled + ".mp4"}, {"backendTaskId", polled}});
    if (roll() < knobs.hook_lost) {
      ++stats.hooks_lost;
      return;
    }
    // The finish itself: the hook goes out just after 100 %.
    const json::object done{{"progress", 100},
                            {"credit", 1},
                            {"download_url", "https://cdn.sim.invalid/video/" + polled + ".mp4"},
                            {"backendTaskId", polled}};
    const auto at = e.duration + Millis(5) + knobs.hook_late;
    spawn(at, done);
    if (roll() < knobs.hook_duplicate) spawn(at + Millis(50), done);
  }

  Export start_export(const std::string& project_id, std::string name) {
    if (export_count[project_id]++ > 0) ++stats.duplicate_exports;
    else ++stats.projects_exported;
    ++stats.export_requests;
    const auto span = (knobs.export_max - knobs.export_min).count();
    const auto d = knobs.export_min + Millis(span > 0 ? static_cast<Millis::rep>(rng() % static_cast<std::uint64_t>(span + 1)) : 0);
    const bool alt = roll() < knobs.alt_url_field_rate;
    const auto curve = draw_curve(knobs.shape, static_cast<double>(d.count()), rng);
    const auto video_span = knobs.video_max_bytes - std::min(knobs.video_min_bytes, knobs.video_max_bytes);
    const auto video_bytes = knobs.video_min_bytes + (video_span > 0 ? rng() % (video_span + 1) : 0);
    return Export{project_id, std::chrono::steady_clock::now(), std::chrono::system_clock::now(), d, alt,
                  std::move(name), curve, video_bytes};
  }

  http::response<http::string_body> submit_reply(const http::request<http::string_body>& req) {
    return reply(req, http::status::ok, json::string(R"({"success":true,"data":)" + knobs.submit_data + "}"));
  }

  json::object progress_of(const std::string& id, const Export& e) {
    const auto elapsed = std::chrono::steady_clock::now() - e.started;
    double p = e.duration.count() == 0 ? 100.0 : e.curve.at(std::chrono::duration<double, std::milli>(elapsed).count());
    json::object d;
    if (p >= 100.0) {
      p = 100.0;
      stats.completed_at_ms.emplace(id, wall_ms(e.started_wall + e.duration));
      d[e.alt_url_field ? "download_url" : "downloadUrl"] = !knobs.download_url.empty() ? knobs.download_url
                                                            : knobs.serve_videos ? mint_link(id, e)
                                                                                 : "https://cdn.sim.invalid/video/" + id + ".mp4";
      d["state"] = "exported";
    } else {
      d["state"] = "exporting";
    }
    d["progress"] = reported(p, knobs.progress_resolution);
    if (!knobs.progress_value.empty()) d["progress"] = json::parse(knobs.progress_value);
    return d;
  }

  std::string mint_link(const std::string& id, const Export& e) {
    stats.video_sizes[id] = e.video_bytes;
    const auto n = next_link++;
    links[n] = Link{id, std::chrono::steady_clock::now(), roll() < knobs.link_expired};
    const auto ep = acceptor.local_endpoint();
    const auto host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
    return std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(ep.port()) + "/videos/" + id +
           ".mp4?link=" + std::to_string(n);
  }

  // GET /videos/<id>.mp4?link=N: the video, whole or from a range, streamed
  // in pieces (never held whole), cut off, throttled or refused as the knobs say.
  template <class Stream>
  awaitable<bool> serve_video(Stream& stream, const http::request<http::string_body>& req) {
    ++stats.video_requests;
    if (stats.video_first_request_ms == 0) stats.video_first_request_ms = wall_ms(std::chrono::system_clock::now());
    const std::string_view target = req.target();
    const auto query = target.find('?');
    const auto path = target.substr(0, query);
    std::string id(path.substr(std::string_view("/videos/").size()));
    if (id.size() > 4 && id.ends_with(".mp4")) id.resize(id.size() - 4);
    const auto link_at = target.find("link=", query == std::string_view::npos ? target.size() : query);
    const auto link_no = link_at == std::string_view::npos ? 0 : std::strtoull(std::string(target.substr(link_at + 5)).c_str(), nullptr, 10);
    const auto refuse = [&](http::status status, const char* why) -> awaitable<bool> {
      ++stats.links_refused;
      auto res = reply(req, status, why, "text/plain");
      auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
      co_return !ec && res.keep_alive();
    };
    auto link = links.find(link_no);
    if (link == links.end() || link->second.id != id) co_return co_await refuse(http::status::forbidden, "no such link");
    if (link->second.dead) co_return co_await refuse(http::status::forbidden, "signature expired");
    if (knobs.link_lifetime.count() > 0 && std::chrono::steady_clock::now() - link->second.minted > knobs.link_lifetime)
      co_return co_await refuse(http::status::gone, "link expired");
    const auto size = exports.at(id).video_bytes;
    const auto etag = video_etag(id, size);

    // Range: bytes=START- or bytes=START-END; If-Range must match the ETag.
    std::uint64_t from = 0, to = size;  // [from, to)
    bool partial = false;
    if (auto r = req.find(http::field::range); r != req.end()) {
      const std::string spec(r->value());
      unsigned long long a = 0, b = 0;
      char dash = 0;
      const int got = std::sscanf(spec.c_str(), "bytes=%llu%c%llu", &a, &dash, &b);
      const auto if_range = req.find(http::field::if_range);
      const bool same = if_range == req.end() || if_range->value() == etag;
      if (got >= 2 && dash == '-' && a >= size && same && knobs.range_at_end_416) {
        ++stats.video_416;
        auto res = reply(req, http::status::range_not_satisfiable, "", "text/plain");
        res.set(http::field::content_range, "bytes */" + std::to_string(size));
        res.set(http::field::etag, etag);
        auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
        co_return !ec && res.keep_alive();
      }
      if (got >= 2 && dash == '-' && a < size && same) {
        if (roll() < knobs.video_ignore_range) {
          ++stats.video_ignored_ranges;
        } else {
          partial = true;
          from = a;
          if (got == 3 && b + 1 < size) to = b + 1;
        }
      }
    }
    http::response<http::buffer_body> res{partial ? http::status::partial_content : http::status::ok, req.version()};
    res.set(http::field::server, "aistudios-sim");
    res.set(http::field::content_type, "video/mp4");
    res.set(http::field::etag, etag);
    res.set(http::field::last_modified, "Tue, 24 Nov 2026 10:00:00 GMT");
    res.set(http::field::accept_ranges, "bytes");
    if (partial) {
      ++stats.video_partial;
      res.set(http::field::content_range,
              "bytes " + std::to_string(from) + "-" + std::to_string(to - 1) + "/" + std::to_string(size));
    }
    res.content_length(to - from);
    res.keep_alive(req.keep_alive());
    res.body().data = nullptr;
    res.body().more = true;
    http::response_serializer<http::buffer_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
    if (hec) co_return false;
    // Where a cut reply stops: somewhere in the body.
    const bool cut = roll() < knobs.video_cut && to - from > 1;
    const auto stop_at = cut ? from + 1 + rng() % (to - from - 1) : to;
    std::vector<char> buf(64 * 1024);
    asio::steady_timer pace(co_await asio::this_coro::executor);
    for (auto at = from; at < stop_at;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), stop_at - at));
      fill_video(id, at, buf.data(), n);
      res.body().data = buf.data();
      res.body().size = n;
      res.body().more = at + n < to;
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      auto [ec, w] = co_await http::async_write(stream, sr, asio::as_tuple(use_awaitable));
      if (ec && ec != http::error::need_buffer) co_return false;
      stats.video_bytes_sent += n;
      stats.video_last_byte_ms = wall_ms(std::chrono::system_clock::now());
      at += n;
      if (knobs.video_rate > 0) {
        pace.expires_after(std::chrono::microseconds(n * 1'000'000 / knobs.video_rate));
        co_await pace.async_wait(asio::as_tuple(use_awaitable));
      }
    }
    if (cut) {
      ++stats.video_cut;
      beast::get_lowest_layer(stream).close();
      co_return false;
    }
    if (to == from) {  // an empty body still ends the message
      res.body().data = nullptr;
      res.body().size = 0;
      res.body().more = false;
      auto [ec, w] = co_await http::async_write(stream, sr, asio::as_tuple(use_awaitable));
      if (ec) co_return false;
    }
    co_return res.keep_alive();
  }

  http::response<http::string_body> handle(const http::request<http::string_body>& req) {
    std::string path(req.target().substr(0, req.target().find('?')));
    if (path == "/_sim/stats") {
      return reply(req, http::status::ok,
                   json::object{{"requests", stats.requests}, {"token_requests", stats.token_requests},
                                {"export_requests", stats.export_requests},
                                {"progress_requests", stats.progress_requests},
                                {"list_requests", stats.list_requests},
                                {"duplicate_exports", stats.duplicate_exports},
                                {"projects_exported", stats.projects_exported},
                                {"unauthorized", stats.unauthorized}});
    }
    if (path.rfind(api, 0) != 0) return fail(req, http::status::not_found, 404, "no such endpoint");
    path = path.substr(api.size());
    json::object body;
    if (!req.body().empty()) {
      boost::system::error_code ec;
      auto v = json::parse(req.body(), ec);
      if (ec || !v.is_object()) return fail(req, http::status::bad_request, 400, "body is not a JSON object");
      body = v.as_object();
    }
    auto str = [&](std::string_view k) -> std::string {
      const auto* v = body.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : "";
    };

    if (req.method() == http::verb::post && path == "/auth/token") {
      ++stats.token_requests;
      if (str("appId") != knobs.app_id || str("userKey") != knobs.user_key)
        return fail(req, http::status::ok, "InvalidCredentials", "invalid appId or userKey");
      auto t = new_token();
      tokens[t] = std::chrono::steady_clock::now();
      stats.issued_tokens.push_back(t);
      if (!knobs.token_body.empty()) {
        auto body = knobs.token_body;
        if (auto at = body.find("{token}"); at != std::string::npos) body.replace(at, 7, t);
        return reply(req, http::status::ok, json::string(body));
      }
      return ok(req, {{"token", t}});
    }
    if (auto refused = check_auth(req)) {
      if (req.method() == http::verb::get && path == "/auth") return ok(req, {{"isAuthenticated", false}});
      return *refused;
    }
    if (req.method() == http::verb::get && path == "/auth") return ok(req, {{"isAuthenticated", true}});

    const auto resolution_ok = [&] {
      const auto r = str("resolution");
      return r.empty() || r == "4k" || r == "1080" || r == "720" || r == "480";
    };
    if (req.method() == http::verb::post && path == "/editor/project/export") {
      const auto id = str("projectId");
      if (id.empty()) return fail(req, http::status::ok, "INVALID_PARAMETER", "projectId is required");
      if (!resolution_ok()) return fail(req, http::status::ok, "INVALID_PARAMETER", "bad resolution");
      if (!knobs.unknown_prefix.empty() && id.rfind(knobs.unknown_prefix, 0) == 0)
        return fail(req, http::status::ok, "PROJECT_NOT_FOUND", "project " + id + " does not exist");
      stats.resolutions[id] = str("resolution");
      ++stats.calls_by_project[id];
      const auto polled = knobs.new_id_on_export ? "exp" + std::to_string(next_id++) + "-" + id : id;
      exports.insert_or_assign(polled, start_export(id, ""));
      schedule_hooks(polled, str("webhookUrl"), exports.at(polled));
      if (!knobs.submit_data.empty()) return submit_reply(req);
      return ok(req, {{"projectId", polled}});
    }
    if (req.method() == http::verb::post && path == "/editor/project") {
      const auto* scenes = body.if_contains("scenes");
      if (scenes == nullptr || !scenes->is_array() || scenes->as_array().empty())
        return fail(req, http::status::ok, "INVALID_PARAMETER", "scenes is required");
      if (!resolution_ok()) return fail(req, http::status::ok, "INVALID_PARAMETER", "bad resolution");
      const auto id = "prj" + std::to_string(next_id++);
      ++stats.create_requests;
      if (const auto tag = tag_in(str("name")); !tag.empty()) ++stats.creates_by_tag[tag];
      const auto* exp = body.if_contains("isExport");
      if (exp == nullptr || !exp->is_bool() || exp->as_bool()) {
        exports.insert_or_assign(id, start_export(id, stored_name(str("name"))));
        schedule_hooks(id, str("webhookUrl"), exports.at(id));
      }
      if (knobs.create_garbled > 0 && roll() < knobs.create_garbled) return garbled_create(req);
      if (!knobs.submit_data.empty()) return submit_reply(req);
      return ok(req, {{"projectId", id}});
    }
    const std::string progress_prefix = "/editor/progress/";
    if (req.method() == http::verb::get && path.rfind(progress_prefix, 0) == 0) {
      ++stats.progress_requests;
      if (knobs.record_progress_times)
        stats.progress_at_ms.push_back(std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started).count());
      const auto id = path.substr(progress_prefix.size());
      ++stats.calls_by_project[id];
      auto it = exports.find(id);
      if (it == exports.end()) return fail(req, http::status::ok, "PROJECT_NOT_FOUND", "no export for " + id);
      return ok(req, progress_of(id, it->second));
    }
    const std::string project_prefix = "/editor/project/";
    if (req.method() == http::verb::get && path.rfind(project_prefix, 0) == 0) {
      const auto id = path.substr(project_prefix.size());
      auto it = exports.find(id);
      if (it == exports.end()) return fail(req, http::status::ok, "PROJECT_NOT_FOUND", "no project " + id);
      auto p = progress_of(id, it->second);
      json::object project{{"id", id}, {"name", it->second.name}, {"progress", p["progress"]},
                           {"state", p["state"]}, {"backendTaskId", "task-" + id}};
      if (auto* u = p.if_contains("downloadUrl")) project["download_url"] = *u;
      if (auto* u = p.if_contains("download_url")) project["download_url"] = *u;
      return ok(req, {{"project", project}});
    }
    if (req.method() == http::verb::get && path == "/editor/project") {
      ++stats.list_requests;
      if (knobs.list_refused) return fail(req, http::status::not_found, 404, "not found");
      json::array items;
      // Newest first, and only the first page of them when list_page is set.
      std::vector<std::pair<const std::string*, Export*>> order;
      const auto listed_before = std::chrono::steady_clock::now() - knobs.list_lag;
      for (auto& [id, e] : exports)
        if (e.started <= listed_before) order.emplace_back(&id, &e);
      std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
        return knobs.list_oldest_first ? a.second->started < b.second->started : a.second->started > b.second->started;
      });
      const auto total = order.size();
      std::size_t page = 1, size = knobs.list_page;
      if (knobs.list_page > 0 && knobs.list_paged) {
        const std::string_view target = req.target();
        const auto number = [&](std::string_view key) -> std::size_t {
          const auto at = target.find(key);
          if (at == std::string_view::npos) return 0;
          return std::strtoull(std::string(target.substr(at + key.size())).c_str(), nullptr, 10);
        };
        page = std::max<std::size_t>(1, number("page="));
        if (const auto asked = number("size="); asked > 0) size = std::min(size, asked);
      }
      if (knobs.list_page > 0) {
        const auto from = std::min(order.size(), (page - 1) * size);
        order.erase(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(from));
        if (order.size() > size) order.resize(size);
      }
      for (auto [id_ptr, e_ptr] : order) {
        const auto& id = *id_ptr;
        auto& e = *e_ptr;
        auto p = progress_of(id, e);
        json::object item{{"id", id}, {"name", e.name}, {"state", p["state"]}};
        if (auto* u = p.if_contains("downloadUrl")) item["download_url"] = *u;
        if (auto* u = p.if_contains("download_url")) item["download_url"] = *u;
        items.push_back(std::move(item));
      }
      if (knobs.list_page > 0 && knobs.list_paged)
        return ok(req, {{knobs.list_items_key, items}, {"total", total}, {"page", page}, {"size", size}});
      return ok(req, {{knobs.list_items_key, items}});
    }
    if (req.method() == http::verb::get && path == "/dropdown/workspaces")
      return ok(req, {{"workspaces", json::array{json::object{{"workspaceId", "ws-1"}, {"workspaceName", "Demo"}}}}});
    return fail(req, http::status::not_found, 404, "no such endpoint");
  }

  bool in_outage() const { return std::chrono::steady_clock::now() - started < knobs.outage_for; }

  // Counts the call in its wall-clock second; true if it goes over rate_limit.
  bool over_rate() {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    if (now != second) {
      second = now;
      in_second = 0;
    }
    ++in_second;
    stats.max_per_second = std::max(stats.max_per_second, in_second);
    return knobs.rate_limit > 0 && in_second > knobs.rate_limit;
  }

  enum class Fault { none, drop, drop_after, html, throttle, unavailable, slow };
  Fault pick_fault(const http::request<http::string_body>& req) {
    if (req.target().rfind(api, 0) != 0) return Fault::none;
    const double r = roll();
    double edge = knobs.rate_drop;
    if (r < edge) return Fault::drop;
    if (r < (edge += knobs.rate_drop_after)) return Fault::drop_after;
    if (r < (edge += knobs.rate_html)) return Fault::html;
    if (r < (edge += knobs.rate_429)) return Fault::throttle;
    if (r < (edge += knobs.rate_5xx)) return Fault::unavailable;
    if (r < (edge += knobs.rate_slow)) return Fault::slow;
    return Fault::none;
  }

  std::string retry_after_value() {
    if (roll() >= knobs.retry_after_date_share) return "1";
    const auto when = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + std::chrono::seconds(2));
    std::tm tm{};
    gmtime_r(&when, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
  }

  template <class Stream>
  awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    asio::steady_timer delay(co_await asio::this_coro::executor);
    for (;;) {
      http::request<http::string_body> req;
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(120));
      auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(use_awaitable));
      if (ec) co_return;
      if (req.method() == http::verb::get && req.target().starts_with("/videos/")) {
        if (!co_await serve_video(stream, req)) co_return;
        continue;
      }
      const bool api_call = req.target().rfind(api, 0) == 0;
      if (api_call) ++stats.requests;
      if (api_call && in_outage()) {
        ++stats.outage_requests;
        beast::get_lowest_layer(stream).close();
        co_return;
      }
      if (knobs.latency.count() > 0) {
        delay.expires_after(knobs.latency);
        co_await delay.async_wait(asio::as_tuple(use_awaitable));
      }
      http::response<http::string_body> res;
      const bool submit_call = req.method() == http::verb::post &&
                               (req.target().ends_with("/editor/project/export") || req.target().ends_with("/editor/project"));
      if (api_call && submit_call && knobs.drop_exports) {
        ++stats.dropped_exports;
        beast::get_lowest_layer(stream).close();
        co_return;
      }
      const auto fault = pick_fault(req);
      close_after_reply = false;
      if (api_call && over_rate()) {
        ++stats.rate_limited;
        res = fail(req, http::status::too_many_requests, 429, "rate limit exceeded");
        res.set(http::field::retry_after, "1");
      } else switch (fault) {
        case Fault::drop:
          ++stats.injected_faults;
          beast::get_lowest_layer(stream).close();
          co_return;
        case Fault::drop_after:
          ++stats.injected_faults;
          handle(req);  // it takes effect; the reply is lost on the way
          beast::get_lowest_layer(stream).close();
          co_return;
        case Fault::slow:
          ++stats.injected_faults;
          delay.expires_after(knobs.slow);
          co_await delay.async_wait(asio::as_tuple(use_awaitable));
          res = handle(req);
          break;
        case Fault::html:
          ++stats.injected_faults;
          res = reply(req, http::status::ok, "<html><body><h1>Gateway says hello</h1></body></html>", "text/html");
          break;
        case Fault::throttle:
          ++stats.injected_faults;
          res = fail(req, http::status::too_many_requests, 429, "slow down");
          res.set(http::field::retry_after, retry_after_value());
          break;
        case Fault::unavailable:
          ++stats.injected_faults;
          res = reply(req, http::status::service_unavailable, "<html>503 Service Unavailable</html>", "text/html");
          break;
        case Fault::none:
          res = handle(req);
          if (close_after_reply) {  // it took effect; the reply is lost on the way
            close_after_reply = false;
            beast::get_lowest_layer(stream).close();
            co_return;
          }
      }
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      auto [wec, w] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
      if (wec || !res.keep_alive()) co_return;
    }
  }

  awaitable<void> session(tcp::socket socket) {
    if (!tls) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(use_awaitable));
    if (ec) co_return;
    co_await serve(stream);
  }

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;
      socket.set_option(tcp::no_delay(true));
      asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
  }
};

Simulator::Simulator(Knobs knobs, const std::string& host, std::uint16_t port, const TlsFiles* tls)
    : io_(1), state_(std::make_unique<State>(io_, std::move(knobs))) {
  if (tls != nullptr) {
    state_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    state_->tls->use_certificate_chain_file(tls->cert);
    state_->tls->use_private_key_file(tls->key, asio::ssl::context::pem);
  }
  tcp::endpoint ep(asio::ip::make_address(host), port);
  state_->acceptor.open(ep.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(ep);
  state_->acceptor.listen(asio::socket_base::max_listen_connections);
  port_ = state_->acceptor.local_endpoint().port();
  asio::co_spawn(io_, state_->accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

Simulator::~Simulator() { stop(); }

std::uint16_t Simulator::port() const { return port_; }

Stats Simulator::stats() {
  std::promise<Stats> p;
  asio::post(io_, [&] { p.set_value(state_->stats); });
  return p.get_future().get();
}

void Simulator::set_knobs(const Knobs& k) {
  std::promise<void> p;
  asio::post(io_, [&] {
    state_->knobs = k;
    p.set_value();
  });
  p.get_future().get();
}

std::string Simulator::finished_video(const std::string& id, std::uint64_t bytes) {
  std::promise<std::string> p;
  asio::post(io_, [&] {
    auto& e = state_->exports[id];
    e.project_id = id;
    e.started = std::chrono::steady_clock::now();
    e.started_wall = std::chrono::system_clock::now();
    e.duration = Millis(0);
    e.video_bytes = bytes;
    p.set_value(state_->mint_link(id, e));
  });
  return p.get_future().get();
}

void Simulator::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

}  // namespace exportd::sim
