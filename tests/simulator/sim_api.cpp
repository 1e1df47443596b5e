// The simulator's answers to the API's calls (SPEC §7), faults and knobs included.

#include <ctime>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/url/parse.hpp>

#include "text/safe_text.hpp"
#include "sim_state.hpp"
#include "videos.hpp"

namespace exportd::sim {

namespace {

// What the create call's documented table refuses in a body, "" when nothing
// (written from seeds/create-project.md, apart from exportd's own check, so
// that a scenes fault exportd lets through shows in a test as a refusal).
std::string scenes_fault(const json::object& body) {
  const auto* scenes = body.if_contains("scenes");
  if (scenes == nullptr || !scenes->is_array() || scenes->as_array().empty()) return "scenes is required";
  const auto integer = [](const json::value* v) { return v != nullptr && (v->is_int64() || v->is_uint64()); };
  const auto number = [](const json::value* v) { return v != nullptr && v->is_number(); };
  std::size_t si = 0;
  for (const auto& scene : scenes->as_array()) {
    const auto at = "scenes[" + std::to_string(si++) + "]";
    if (!scene.is_object()) return at + " must be an object";
    const auto& s = scene.as_object();
    if (!integer(s.if_contains("sceneIdx"))) return at + ".sceneIdx must be an Int";
    const auto* bg = s.if_contains("background");
    if (bg == nullptr || !bg->is_object()) return at + ".background must be Json";
    const auto* clips = s.if_contains("clips");
    if (clips == nullptr || !clips->is_array()) return at + ".clips must be an Array";
    std::size_t ci = 0;
    for (const auto& clip : clips->as_array()) {
      const auto cat = at + ".clips[" + std::to_string(ci++) + "]";
      if (!clip.is_object()) return cat + " must be Json";
      const auto& c = clip.as_object();
      const auto* id = c.if_contains("id");
      if (id == nullptr || !id->is_string()) return cat + ".id must be a String";
      const auto* type = c.if_contains("type");
      static const std::set<std::string_view> types{"aiModel", "shape", "image", "textImage", "videoImage", "audio"};
      if (type == nullptr || !type->is_string() || types.count(type->as_string()) == 0)
        return cat + ".type is not a known clip type";
      for (const char* f : {"height", "width", "left", "top"})
        if (!number(c.if_contains(f))) return cat + "." + f + " must be a Float";
      if (!integer(c.if_contains("layer"))) return cat + ".layer must be an Int";
      for (const char* f : {"scaleX", "scaleY"})
        if (c.contains(f) && !number(c.if_contains(f))) return cat + "." + f + " must be a Float";
    }
  }
  return "";
}

}  // namespace

Simulator::State::State(asio::io_context& io, Knobs k) : knobs(std::move(k)), rng(knobs.seed), acceptor(io) {
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
std::string Simulator::State::stored_name(std::string name) const {
  if (knobs.name_html_escaped) name = html_escaped(name);
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
std::string Simulator::State::tag_in(const std::string& name) {
  const auto at = name.find("exportd-");
  if (at == std::string::npos || at + 24 > name.size()) return "";
  return name.substr(at, 24);
}

// The reply to a create that took effect, garbled as create_garble says.
http::response<http::string_body> Simulator::State::garbled_create(const http::request<http::string_body>& req) {
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

double Simulator::State::roll() { return std::uniform_real_distribution<double>(0, 1)(rng); }

std::string Simulator::State::new_token() {
  static constexpr char hex[] = "0123456789abcdef";
  std::string t;
  for (std::size_t i = 0; i < knobs.token_length; ++i) t += hex[rng() % 16];
  return t.substr(0, t.size() / 2) + knobs.token_extra + t.substr(t.size() / 2);
}

http::response<http::string_body> Simulator::State::reply(const http::request<http::string_body>& req,
                                                          http::status status, json::value body,
                                                          std::string content_type) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "aistudios-sim");
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = body.is_string() ? std::string(body.as_string()) : json::serialize(body);
  res.prepare_payload();
  return res;
}

http::response<http::string_body> Simulator::State::ok(const http::request<http::string_body>& req, json::object data) {
  return reply(req, http::status::ok, json::object{{"success", true}, {"data", std::move(data)}});
}

http::response<http::string_body> Simulator::State::fail(const http::request<http::string_body>& req,
                                                         http::status status, json::value code, std::string msg) {
  msg = knobs.message_prefix + msg;
  if (knobs.echo_body_in_errors) msg += " (request: " + req.body() + ")";
  if (msg.size() < knobs.error_message_bytes) msg.append(knobs.error_message_bytes - msg.size(), 'x');
  return reply(req, status,
               json::object{{"success", false}, {"error", json::object{{"code", code}, {"msg", std::move(msg)}}}});
}

// Empty optional: the token is fine.
std::optional<http::response<http::string_body>> Simulator::State::check_auth(
    const http::request<http::string_body>& req) {
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

http::verb Simulator::State::hook_verb() {
  if (knobs.hook_method == "GET") return http::verb::get;
  if (knobs.hook_method == "mixed") return roll() < 0.5 ? http::verb::get : http::verb::post;
  return http::verb::post;
}

// What the API is (we think) going to do with a webhookUrl.
void Simulator::State::schedule_hooks(const std::string& polled, const std::string& url, const Export& e) {
  if (url.empty()) return;
  const auto spawn = [&](Millis after, json::object fields) {
    asio::co_spawn(acceptor.get_executor(), call_hook(url, after, hook_verb(), std::move(fields)), asio::detached);
  };
  const auto half = Millis(e.duration.count() / 2);
  if (roll() < knobs.hook_midway)
    spawn(half, {{"progress", std::floor(e.curve.at(static_cast<double>(half.count())))}, {"backendTaskId", polled}});
  if (roll() < knobs.hook_false_finish)
    spawn(half,
          {{"progress", 100}, {"download_url", "https://evil.example/" + polled + ".mp4"}, {"backendTaskId", polled}});
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

Export Simulator::State::start_export(const std::string& project_id, std::string name) {
  if (export_count[project_id]++ > 0)
    ++stats.duplicate_exports;
  else
    ++stats.projects_exported;
  ++stats.export_requests;
  const auto span = (knobs.export_max - knobs.export_min).count();
  const auto d =
      knobs.export_min + Millis(span > 0 ? static_cast<Millis::rep>(rng() % static_cast<std::uint64_t>(span + 1)) : 0);
  const bool alt = roll() < knobs.alt_url_field_rate;
  const auto curve = draw_curve(knobs.shape, static_cast<double>(d.count()), rng);
  const auto video_span = knobs.video_max_bytes - std::min(knobs.video_min_bytes, knobs.video_max_bytes);
  const auto video_bytes = knobs.video_min_bytes + (video_span > 0 ? rng() % (video_span + 1) : 0);
  return Export{
      project_id, std::chrono::steady_clock::now(), std::chrono::system_clock::now(), d, alt, std::move(name), curve,
      video_bytes};
}

http::response<http::string_body> Simulator::State::submit_reply(const http::request<http::string_body>& req) {
  return reply(req, http::status::ok, json::string(R"({"success":true,"data":)" + knobs.submit_data + "}"));
}

json::object Simulator::State::progress_of(const std::string& id, const Export& e) {
  const auto elapsed = std::chrono::steady_clock::now() - e.started;
  double p = e.duration.count() == 0 ? 100.0 : e.curve.at(std::chrono::duration<double, std::milli>(elapsed).count());
  json::object d;
  if (p >= 100.0) {
    p = 100.0;
    stats.completed_at_ms.emplace(id, wall_ms(e.started_wall + e.duration));
    d[e.alt_url_field ? "download_url" : "downloadUrl"] = !knobs.download_url.empty() ? knobs.download_url
                                                          : knobs.serve_videos
                                                              ? mint_link(id, e)
                                                              : "https://cdn.sim.invalid/video/" + id + ".mp4";
    d["state"] = "exported";
  } else {
    d["state"] = "exporting";
  }
  d["progress"] = reported(p, knobs.progress_resolution);
  if (!knobs.progress_value.empty()) d["progress"] = json::parse(knobs.progress_value);
  return d;
}

std::string Simulator::State::mint_link(const std::string& id, const Export& e) {
  stats.video_sizes[id] = e.video_bytes;
  const auto n = next_link++;
  links[n] = Link{id, std::chrono::steady_clock::now(), roll() < knobs.link_expired};
  const auto ep = acceptor.local_endpoint();
  const auto host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
  return std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(ep.port()) + "/videos/" + id +
         ".mp4?link=" + std::to_string(n);
}

http::response<http::string_body> Simulator::State::handle(const http::request<http::string_body>& req) {
  std::string path(req.target().substr(0, req.target().find('?')));
  if (path == "/_sim/stats") {
    return reply(req, http::status::ok,
                 json::object{{"requests", stats.requests},
                              {"token_requests", stats.token_requests},
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
    if (knobs.record_create_bodies) stats.create_bodies.push_back(req.body());
    // The create page's table (seeds/create-project.md), as the API would
    // refuse it: the first field that breaks it, in an error envelope.
    if (const auto why = scenes_fault(body); !why.empty()) {
      ++stats.invalid_creates;
      return fail(req, http::status::ok, "INVALID_PARAMETER", why);
    }
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
      stats.progress_at_ms.push_back(
          std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started).count());
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
    json::object project{{"id", id},
                         {"name", it->second.name},
                         {"progress", p["progress"]},
                         {"state", p["state"]},
                         {"backendTaskId", "task-" + id}};
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

bool Simulator::State::in_outage() const { return std::chrono::steady_clock::now() - started < knobs.outage_for; }

// Counts the call in its wall-clock second; true if it goes over rate_limit.
bool Simulator::State::over_rate() {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (now != second) {
    second = now;
    in_second = 0;
  }
  ++in_second;
  stats.max_per_second = std::max(stats.max_per_second, in_second);
  return knobs.rate_limit > 0 && in_second > knobs.rate_limit;
}

Simulator::State::Fault Simulator::State::pick_fault(const http::request<http::string_body>& req) {
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

std::string Simulator::State::retry_after_value() {
  if (roll() >= knobs.retry_after_date_share) return "1";
  const auto when = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + std::chrono::seconds(2));
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace exportd::sim
