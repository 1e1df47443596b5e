// The simulator calling a job's webhook, as the API would (SPEC §9), over
// exportd's own connection layer (lib/http/connection.hpp): a client it
// would otherwise write again.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/url/parse.hpp>

#include "http/connection.hpp"
#include "http/tls.hpp"
#include "sim_state.hpp"

namespace exportd::sim {

// One call of a job's webhook, `after` from now.
awaitable<void> Simulator::State::call_hook(std::string url, Millis after, http::verb method, json::object fields) {
  asio::steady_timer wait(acceptor.get_executor(), after);
  co_await wait.async_wait(asio::as_tuple(use_awaitable));
  ++stats.hooks_sent;
  auto u = parse_web_url(url);
  if (!u) {
    ++stats.hooks_failed;
    co_return;
  }
  std::string target = u->path.empty() ? "/" : u->path;
  if (method == http::verb::get) {
    std::string q;
    for (const auto& [k, v] : fields) {
      q += (q.empty() ? "?" : "&") + std::string(k) + "=";
      q += v.is_string() ? std::string(v.as_string()) : json::serialize(v);
    }
    target += q;
  }
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, u->endpoint.host_header());
  if (method == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = json::serialize(fields);
  }
  req.prepare_payload();
  if (u->endpoint.tls && !hook_tls) hook_tls = make_client_tls_context(knobs.hook_ca_file);
  auto& time = real_time();  // a test server: the real clock
  Connection link(acceptor.get_executor(), time, u->endpoint.tls ? hook_tls : nullptr);
  unsigned status = 0;
  co_await link.run(Deadlines::total(time.now(), std::chrono::seconds(10)), [&]() -> awaitable<void> {
    if (co_await link.open(u->endpoint, false) || co_await link.write(req)) co_return;
    http::response_parser<http::string_body> parser;
    if (co_await link.read_head(parser) || co_await link.read_body(parser)) co_return;
    status = parser.get().result_int();
  });
  if (status == 0)
    ++stats.hooks_failed;
  else if (status / 100 == 2)
    ++stats.hooks_ok;
  else
    ++stats.hooks_refused;
}

}  // namespace exportd::sim
