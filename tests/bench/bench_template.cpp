// exportd-bench-template: personalized videos (SPEC §12) at scale, against
// the way teams do it without them (a generated scenes file per video),
// run in the same invocation and set side by side as ratios.
//
//  1. `exportd check` of a template job over a CSV of --check-rows rows,
//     against `exportd check` of the same jobs as that many scenes files:
//     wall time, CPU and peak RSS.
//  2. `exportd run --once` of --batch-rows rows through the simulator, the
//     same two ways: API calls per job, wall time, peak RSS. (The scenes
//     files go 10,000 jobs to a job file: one holds at most 8 MiB.)
//
//   exportd-bench-template [--check-rows 100000] [--batch-rows 10000]

#include <cstdio>
#include <filesystem>

#include <boost/program_options.hpp>

#include "bench_cli.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
using namespace exportd;
using namespace std::chrono_literals;

namespace {

constexpr const char* scenes_head =
    R"({"scenes":[{"sceneIdx":0,"background":{"type":"background","source_url":"/images/bg.png"},"clips":[)"
    R"({"id":"m","type":"aiModel","layer":1,"top":146.7,"left":630.2,"height":2229,"width":679,)"
    R"("model":{"ai_name":"M000045058","emotion":"BG00002320","language":"en"},"script":{"org":")";
constexpr const char* scenes_tail = R"("}}]}]})";

std::string script_template() { return "<p>Hello {{first_name}}, welcome to {{course}}. Your code is {{code}}.</p>"; }

std::string row_value(int i, const char* what) { return std::string(what) + " " + std::to_string(i); }

// The two ways of writing one batch of `rows` videos into `ws`; the job file's path.
std::string write_template_batch(const testing::Workspace& ws, int rows) {
  ws.write("t/welcome.json", scenes_head + script_template() + scenes_tail);
  std::string csv = "customer_id,first_name,course,code\r\n";
  for (int i = 0; i < rows; ++i)
    csv += "c" + std::to_string(i) + ",\"" + row_value(i, "Zoë & \"\"Ann\"\"") + "\"," + row_value(i, "Course") +
           ",X" + std::to_string(i * 7919) + "\r\n";
  ws.write("t/people.csv", csv);
  return ws.write("t/batch.yaml", "jobs:\n  - template: welcome.json\n    rows: people.csv\n"
                                  "    id: \"{{customer_id}}\"\n    name: \"Welcome, {{first_name}}\"\n");
}

std::string html(const std::string& v) {
  std::string out;
  for (const char c : v) out += c == '&' ? std::string("&amp;") : c == '"' ? std::string("&quot;") : std::string(1, c);
  return out;
}

// The job files it takes (a job file holds at most 8 MiB: 10,000 jobs each).
std::vector<std::string> write_scenes_batch(const testing::Workspace& ws, int rows) {
  std::filesystem::create_directories(ws.path("s/scenes"));
  std::vector<std::string> files;
  std::string jobs = "jobs:\n";
  for (int i = 0; i < rows; ++i) {
    const auto id = "c" + std::to_string(i);
    const auto first = row_value(i, "Zoë & \"Ann\"");
    // What a team's own script writes: the template filled in, one file per video.
    std::string script = "<p>Hello " + html(first) + ", welcome to " + row_value(i, "Course") + ". Your code is X" +
                         std::to_string(i * 7919) + ".</p>";
    std::string escaped;
    for (const char c : script) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
    ws.write("s/scenes/" + id + ".json", scenes_head + escaped + scenes_tail);
    std::string name;
    for (const char c : first) name += c == '"' ? std::string("\\\"") : std::string(1, c);
    jobs += "  - scenes_file: scenes/" + id + ".json\n    id: " + id + "\n    name: \"Welcome, " + name + "\"\n";
    if ((i + 1) % 10'000 == 0 || i + 1 == rows) {
      files.push_back(ws.write("s/batch" + std::to_string(files.size()) + ".yaml", jobs));
      jobs = "jobs:\n";
    }
  }
  return files;
}

struct Figures {
  double wall = 0, cpu = 0;
  long rss_kib = 0;
  double calls_per_job = 0;
  bool ok = false;
};

void print(const char* what, const Figures& f, bool calls) {
  std::printf("  %-28s wall %7.2f s   cpu %7.2f s   peak RSS %7.1f MiB", what, f.wall, f.cpu,
              static_cast<double>(f.rss_kib) / 1024);
  if (calls) std::printf("   calls/job %.2f", f.calls_per_job);
  std::printf("%s\n", f.ok ? "" : "   (FAILED)");
}

void ratio(const char* what, const Figures& tmpl, const Figures& files) {
  std::printf("  %-28s wall %.2fx   peak RSS %.2fx   (scenes files / template)\n", what,
              tmpl.wall > 0 ? files.wall / tmpl.wall : 0,
              tmpl.rss_kib > 0 ? static_cast<double>(files.rss_kib) / static_cast<double>(tmpl.rss_kib) : 0);
}

Figures check(const testing::Workspace& ws, const std::vector<std::string>& jobs) {
  std::vector<std::string> argv{testing::exportd_binary(), "check", "-c", ws.path("config.yaml")};
  argv.insert(argv.end(), jobs.begin(), jobs.end());
  const auto r = testing::run_process(argv, 600s);
  if (r.exit_code != 0) std::fprintf(stderr, "%s", r.err.substr(0, 2000).c_str());
  return {r.wall_seconds, r.cpu_seconds, r.max_rss_kib, 0, r.exit_code == 0};
}

Figures batch(int rows, bool tmpl) {
  sim::Knobs k;
  k.export_min = 1000ms;
  k.export_max = 3000ms;
  sim::Simulator sim(k);
  testing::Workspace ws(tmpl ? "bench-template-t" : "bench-template-s");
  ws.write_config(sim.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 0\n  max_active_jobs: " + std::to_string(rows) +
                      "\npolling:\n  first_poll_after: 2s\n  min_interval: 1s\n  max_interval: 5s\n");
  const auto jobs = tmpl ? std::vector<std::string>{write_template_batch(ws, rows)} : write_scenes_batch(ws, rows);
  std::vector<std::string> args;
  for (const auto& j : jobs) args.insert(args.end(), {"--queue", j});
  const auto r = testing::run_once(ws, 900s, args);
  if (r.exit_code != 0) std::fprintf(stderr, "%s", r.err.substr(0, 2000).c_str());
  const auto s = sim.stats();
  const bool every = s.create_requests == static_cast<std::uint64_t>(rows) && s.invalid_creates == 0;
  return {r.wall_seconds, r.cpu_seconds, r.max_rss_kib,
          static_cast<double>(s.requests - s.token_requests) / rows, r.exit_code == 0 && every};
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("exportd-bench-template");
  o.add_options()("help", "this help")("check-rows", po::value<int>()->default_value(100'000),
                                       "rows of the CSV `exportd check` reads (0: none)")(
      "batch-rows", po::value<int>()->default_value(10'000), "rows of the batch run through the simulator (0: none)");
  po::variables_map vm;
  if (const auto exit = testing::parse_bench_options(argc, argv, o, vm)) return *exit;
  const int check_rows = vm["check-rows"].as<int>(), batch_rows = vm["batch-rows"].as<int>();
  bool ok = true;
  if (check_rows > 0) {
    testing::Workspace ws("bench-template-check");
    ws.write_config(1, false, "demo-key", "");
    const auto t = write_template_batch(ws, check_rows);
    const auto s = write_scenes_batch(ws, check_rows);
    std::printf("exportd-bench-template: exportd check of %d rows (CSV %.1f MiB)\n", check_rows,
                static_cast<double>(std::filesystem::file_size(ws.path("t/people.csv"))) / (1 << 20));
    const auto ft = check(ws, {t});
    const auto fs = check(ws, s);
    print("template + CSV", ft, false);
    print("one scenes file per row", fs, false);
    ratio("ratio", ft, fs);
    ok = ok && ft.ok && fs.ok;
  }
  if (batch_rows > 0) {
    std::printf("exportd-bench-template: run --once of %d rows through the simulator\n", batch_rows);
    const auto ft = batch(batch_rows, true);
    const auto fs = batch(batch_rows, false);
    print("template + CSV", ft, true);
    print("one scenes file per row", fs, true);
    ratio("ratio", ft, fs);
    ok = ok && ft.ok && fs.ok;
  }
  return ok ? 0 : 1;
}
