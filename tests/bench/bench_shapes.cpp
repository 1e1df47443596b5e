// exportd-bench-shapes: what a finished export costs and how late it is seen,
// per progress shape (SPEC §8), for four ways of waiting on the same
// simulator workload, run side by side in one invocation:
//   exportd        the daemon polling with its default schedule (sweeps on)
//   (no sweeps)    the same with polling.sweep_every: 0s (reads of each job's own only)
//   exportd+hook   the daemon with its webhook receiver (SPEC §9)
//   every 3s       a fixed 3 s poller (the vendor's sample)
//   every 60s      a fixed 60 s poller (the seed's loop)
// Each gets --jobs exports of its own (1-2 minutes by default), drawn from
// the same shape family by the same simulator. API calls per job count the
// export and the progress reads, and for the default run its project-list
// calls (sweeps) shared out among its jobs (token calls excluded); lag is from the
// simulator's 100 % to the waiter recording it.
//
//   exportd-bench-shapes [--jobs 300] [--min-ms 60000] [--max-ms 120000]
//                        [--shapes linear,queued,steps,stall,scurve]
//                        [--lost-run]   also: mixed shapes, half the hooks lost, safety_poll 30s
//                        [--list-page N]  the sweeping waiter's list in pages of N (its own simulator)
//                        [--list-compare N]  instead: no list, the newest N only, and pages of N (issue 25)

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <queue>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include "bench_cli.hpp"

#include "measure.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace exportd;
using Millis = std::chrono::milliseconds;

namespace {

using testing::parse_rfc3339_ms;
using testing::percentile;

std::int64_t wall_ms_now() {
  return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A blocking client of the simulator's API, one request per connection.
class Api {
 public:
  explicit Api(std::uint16_t port) : port_(port) {}
  json::object call(http::verb method, const std::string& target, const std::string& body = {}) {
    beast::tcp_stream s(io_);
    s.expires_after(std::chrono::seconds(30));
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    http::request<http::string_body> req{method, "/api/odin/v3" + target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token_.empty()) req.set(http::field::authorization, token_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(s, b, res);
    return json::parse(res.body()).as_object();
  }
  void login() {
    auto r = call(http::verb::post, "/auth/token", R"({"appId":"demo-app","userKey":"demo-key"})");
    token_ = std::string(r.at("data").at("token").as_string());
  }

 private:
  asio::io_context io_;
  std::uint16_t port_;
  std::string token_;
};

struct Figures {
  double calls_per_job = 0;
  double lag_p50 = 0, lag_p95 = 0, lag_max = 0;
  int ended = 0;
};

// The fixed-interval peer: export each project, then read each every `every` until 100 %.
std::map<std::string, std::int64_t> fixed_poller(std::uint16_t port, const std::vector<std::string>& ids, Millis every) {
  Api api(port);
  api.login();
  using Due = std::pair<std::chrono::steady_clock::time_point, std::string>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due;
  for (const auto& id : ids) {
    api.call(http::verb::post, "/editor/project/export", R"({"projectId":")" + id + R"("})");
    due.push({std::chrono::steady_clock::now() + every, id});
  }
  std::map<std::string, std::int64_t> seen;  // id -> wall ms when 100 % was read
  while (!due.empty()) {
    auto [at, id] = due.top();
    due.pop();
    std::this_thread::sleep_until(at);
    auto r = api.call(http::verb::get, "/editor/progress/" + id);
    const auto& d = r.at("data").as_object();
    const double p = d.at("progress").is_double() ? d.at("progress").as_double() : static_cast<double>(d.at("progress").to_number<double>());
    if (p >= 100.0) seen[id] = wall_ms_now();
    else due.push({at + every, id});
  }
  return seen;
}

// `shared_calls`: calls made for all these jobs at once (the project-list sweeps), shared out among them.
Figures figures_for(const sim::Stats& s, const std::vector<std::string>& ids,
                    const std::map<std::string, std::int64_t>& seen, std::uint64_t shared_calls = 0) {
  Figures f;
  double calls = static_cast<double>(shared_calls);
  std::vector<double> lags;
  for (const auto& id : ids) {
    if (auto c = s.calls_by_project.find(id); c != s.calls_by_project.end()) calls += c->second;
    auto done = s.completed_at_ms.find(id);
    auto got = seen.find(id);
    if (done == s.completed_at_ms.end() || got == seen.end()) continue;
    ++f.ended;
    lags.push_back(static_cast<double>(got->second - done->second) / 1000.0);
  }
  f.calls_per_job = calls / static_cast<double>(ids.size());
  f.lag_p50 = percentile(lags, 0.5);
  f.lag_p95 = percentile(lags, 0.95);
  f.lag_max = percentile(lags, 1.0);
  return f;
}

// Results of an exportd run: project id -> when it was recorded.
std::map<std::string, std::int64_t> recorded(const testing::Workspace& ws) {
  std::map<std::string, std::int64_t> out;
  for (const auto& r : ws.results())
    if (r.at("status").as_string() == "succeeded")
      out[std::string(r.at("project_id").as_string())] = parse_rfc3339_ms(std::string(r.at("finished_at").as_string()));
  return out;
}

std::vector<std::string> ids_with(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  char buf[64];
  for (int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%s%04d", prefix.c_str(), i);
    ids.emplace_back(buf);
  }
  return ids;
}

void print_row(const std::string& shape, const char* who, const Figures& f, int jobs) {
  std::printf("%-8s %-13s %8.2f %9.2f %9.2f %9.2f %7d/%d\n", shape.c_str(), who, f.calls_per_job, f.lag_p50, f.lag_p95,
              f.lag_max, f.ended, jobs);
  std::fflush(stdout);
}

std::string exportd_config(int jobs, const std::string& more) {
  return "limits:\n  max_active_jobs: " + std::to_string(jobs) +
         "\n  requests_per_second: 0\nlog:\n  level: warning\n" + more;
}

// One shape: the four waiters side by side on one simulator.
// With `list_page`, the sweeping waiter has a simulator of its own whose
// project list comes in pages of that many (total, page and size in each
// reply): an account that holds this batch alone, listed newest first.
void run_shape(sim::Shape shape, int jobs, Millis min, Millis max, double lost, Millis safety, bool only_hooks,
               std::size_t list_page) {
  sim::Knobs k;
  k.shape = shape;
  k.export_min = min;
  k.export_max = max;
  k.hook_lost = lost;
  k.hook_method = "mixed";
  k.seed = 42 + static_cast<int>(shape);
  sim::Simulator sim(k);
  std::optional<sim::Simulator> own;
  if (list_page > 0) {
    auto paged = k;
    paged.list_page = list_page;
    paged.list_paged = true;
    own.emplace(paged);
  }
  const std::string name(sim::to_string(shape));

  testing::Workspace polling_ws("bench-shape-poll-" + name);
  testing::Workspace plain_ws("bench-shape-plain-" + name);
  testing::Workspace hook_ws("bench-shape-hook-" + name);
  const auto hook_port = testing::free_loopback_port();
  polling_ws.write_config(own ? own->port() : sim.port(), false, "demo-key", exportd_config(jobs, ""));
  plain_ws.write_config(sim.port(), false, "demo-key", exportd_config(jobs, "polling:\n  sweep_every: 0s\n"));
  hook_ws.write_config(sim.port(), false, "demo-key",
                       exportd_config(jobs,
                                      "webhook:\n  listen: 127.0.0.1:" + std::to_string(hook_port) +
                                          "\n  public_url: http://127.0.0.1:" + std::to_string(hook_port) +
                                          "/exportd\n  safety_poll: " + std::to_string(safety.count()) + "ms\n"));
  polling_ws.write_export_jobs("jobs.yaml", jobs, "poll");
  plain_ws.write_export_jobs("jobs.yaml", jobs, "plain");
  hook_ws.write_export_jobs("jobs.yaml", jobs, "hook");

  const auto timeout = std::chrono::duration_cast<Millis>(max * 3 + safety + std::chrono::minutes(2));
  std::unique_ptr<testing::ChildProcess> polling, plain;
  const auto start = [](const testing::Workspace& ws) {
    return std::make_unique<testing::ChildProcess>(std::vector<std::string>{
        testing::exportd_binary(), "run", "-c", ws.path("config.yaml"), "--once", "--queue", ws.path("jobs.yaml")});
  };
  if (!only_hooks) {
    polling = start(polling_ws);
    plain = start(plain_ws);
  }
  testing::ChildProcess hooked({testing::exportd_binary(), "run", "-c", hook_ws.path("config.yaml"), "--once", "--queue",
                                hook_ws.path("jobs.yaml")});
  std::map<std::string, std::int64_t> seen3, seen60;
  std::thread p3, p60;
  if (!only_hooks) {
    p3 = std::thread([&] { seen3 = fixed_poller(sim.port(), ids_with("every3s", jobs), std::chrono::seconds(3)); });
    p60 = std::thread([&] { seen60 = fixed_poller(sim.port(), ids_with("every60s", jobs), std::chrono::seconds(60)); });
  }
  const auto hr = hooked.wait(timeout);
  if (!only_hooks) {
    const auto pr = polling->wait(timeout);
    const auto nr = plain->wait(timeout);
    if (nr.exit_code != 0) std::fprintf(stderr, "exportd (no sweeps) exited %d\n%s\n", nr.exit_code, nr.err.c_str());
    p3.join();
    p60.join();
    if (pr.exit_code != 0) std::fprintf(stderr, "exportd (polling) exited %d\n%s\n", pr.exit_code, pr.err.c_str());
  }
  if (hr.exit_code != 0) std::fprintf(stderr, "exportd (hooks) exited %d\n%s\n", hr.exit_code, hr.err.c_str());
  const auto s = sim.stats();
  // The hooks run's jobs are named hook0000..; the results carry the project id.
  if (!only_hooks) {
    // Only the default run sweeps: every project-list call is its own.
    const auto ps = own ? own->stats() : s;
    print_row(name, own ? "exportd paged" : "exportd",
              figures_for(ps, ids_with("poll", jobs), recorded(polling_ws), ps.list_requests), jobs);
    print_row(name, "(no sweeps)", figures_for(s, ids_with("plain", jobs), recorded(plain_ws)), jobs);
  }
  print_row(name, lost > 0 ? "exportd+hook*" : "exportd+hook", figures_for(s, ids_with("hook", jobs), recorded(hook_ws)), jobs);
  if (!only_hooks) {
    print_row(name, "every 3s", figures_for(s, ids_with("every3s", jobs), seen3), jobs);
    print_row(name, "every 60s", figures_for(s, ids_with("every60s", jobs), seen60), jobs);
  }
}

// Issue 25, H13: one shape with three project lists, side by side, each
// exportd with a simulator of its own: none (sweeps off), one that shows
// only the newest `page` projects and says nothing of more, and one in
// pages of `page` (total, page and size in each reply).
void run_list_compare(sim::Shape shape, int jobs, Millis min, Millis max, std::size_t page) {
  struct Waiter {
    const char* name;
    std::size_t page;
    bool paged;
    std::string polling;
  };
  const Waiter waiters[] = {{"no list", 0, false, "polling:\n  sweep_every: 0s\n"},
                            {"newest-only", page, false, ""},
                            {"paged", page, true, ""}};
  std::vector<std::unique_ptr<sim::Simulator>> sims;
  std::vector<std::unique_ptr<testing::Workspace>> spaces;
  std::vector<std::unique_ptr<testing::ChildProcess>> runs;
  const std::string name(sim::to_string(shape));
  for (const auto& w : waiters) {
    sim::Knobs k;
    k.shape = shape;
    k.export_min = min;
    k.export_max = max;
    k.seed = 42 + static_cast<int>(shape);
    k.list_page = w.page;
    k.list_paged = w.paged;
    sims.push_back(std::make_unique<sim::Simulator>(k));
    spaces.push_back(std::make_unique<testing::Workspace>("bench-list-" + name + "-" + std::to_string(spaces.size())));
    auto& ws = *spaces.back();
    ws.write_config(sims.back()->port(), false, "demo-key", exportd_config(jobs, w.polling));
    ws.write_export_jobs("jobs.yaml", jobs, "list");
  }
  for (const auto& ws : spaces)
    runs.push_back(std::make_unique<testing::ChildProcess>(std::vector<std::string>{
        testing::exportd_binary(), "run", "-c", ws->path("config.yaml"), "--once", "--queue", ws->path("jobs.yaml")}));
  const auto timeout = std::chrono::duration_cast<Millis>(max * 3 + std::chrono::minutes(2));
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto r = runs[i]->wait(timeout);
    if (r.exit_code != 0) std::fprintf(stderr, "exportd (%s) exited %d\n%s\n", waiters[i].name, r.exit_code, r.err.c_str());
    const auto st = sims[i]->stats();
    const std::string who = waiters[i].page ? std::string(waiters[i].name) + " " + std::to_string(page) : waiters[i].name;
    print_row(name, who.c_str(), figures_for(st, ids_with("list", jobs), recorded(*spaces[i]), st.list_requests), jobs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("exportd-bench-shapes");
  o.add_options()("help", "this text")("jobs", po::value<int>()->default_value(300), "exports per waiter and shape")(
      "min-ms", po::value<long>()->default_value(60'000), "shortest export")(
      "max-ms", po::value<long>()->default_value(120'000), "longest export")(
      "shapes", po::value<std::string>()->default_value("linear,queued,steps,stall,scurve"), "shapes to run")(
      "lost-run", "also: mixed shapes with half the hooks lost and safety_poll 30s")(
      "list-page", po::value<std::size_t>()->default_value(0),
      "the sweeping waiter's project list in pages of this many (0: one list of all)")(
      "list-compare", po::value<std::size_t>()->default_value(0),
      "instead: per shape, exportd with no list, a list of the newest N only, and a list in pages of N");
  po::variables_map vm;
  if (const auto exit = testing::parse_bench_options(argc, argv, o, vm)) return *exit;
  const int jobs = vm["jobs"].as<int>();
  const Millis min(vm["min-ms"].as<long>()), max(vm["max-ms"].as<long>());
  std::printf("%d exports per waiter and shape, %.0f-%.0f s each; default polling (first 10 s, 3-60 s); "
              "lag in seconds from 100 %% to recorded\n",
              jobs, min.count() / 1000.0, max.count() / 1000.0);
  std::printf("%-8s %-13s %8s %9s %9s %9s %9s\n", "shape", "waiter", "calls/job", "lag p50", "lag p95", "lag max",
              "ended");
  std::stringstream list(vm["shapes"].as<std::string>());
  for (std::string item; std::getline(list, item, ',');) {
    sim::Shape shape;
    if (!sim::parse_shape(item, shape)) {
      std::cerr << "unknown shape " << item << "\n";
      return 2;
    }
    if (const auto n = vm["list-compare"].as<std::size_t>(); n > 0)
      run_list_compare(shape, jobs, min, max, n);
    else
      run_shape(shape, jobs, min, max, 0.0, std::chrono::minutes(10), false, vm["list-page"].as<std::size_t>());
  }
  if (vm.count("lost-run")) {
    std::printf("* half of the hooks lost (mixed shapes), safety_poll 30s: lag max is bounded by it\n");
    run_shape(sim::Shape::mixed, jobs, min, max, 0.5, std::chrono::seconds(30), true, 0);
  }
  return 0;
}
