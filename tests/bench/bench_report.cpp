// exportd-bench-report: the morning report (SPEC §14) at size. For each
// count of results (generated lines in a state_dir's results.jsonl, a share
// of them failed for a few reasons), `exportd report` is timed (wall, CPU,
// peak RSS) and the page measured; with Chromium present the page is also
// rendered headless and what it drew is counted (lanes, or minutes of
// stacked counts past 300 jobs). The counts run in one invocation, so the
// figures scale against each other.
//
//   exportd-bench-report [--results 2000,100000]

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <boost/program_options.hpp>

#include "bench_cli.hpp"
#include "process.hpp"
#include "workspace.hpp"

namespace po = boost::program_options;
using namespace exportd;
using namespace std::chrono_literals;

namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

std::string stamp(std::int64_t ms) {
  const std::time_t secs = ms / 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

// `n` results of one night: batches of 1,000 begun a minute apart, exports of 1 to 40 minutes, 3 % failed.
void write_results(const std::string& path, int n) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(7);
  const std::int64_t night = (std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch()) -
                              std::chrono::hours(6))
                                 .count();
  const char* reasons[] = {"download_failed", "PROJECT_NOT_FOUND", "timed_out", "INVALID_PARAMETER"};
  for (int i = 0; i < n; ++i) {
    const int batch = i / 1000;
    const auto began = night - night % 1000 + batch * 60'000;
    const auto submitted = began + static_cast<std::int64_t>(rng() % 120'000);
    const auto finished = submitted + 60'000 + static_cast<std::int64_t>(rng() % 2'340'000);
    const bool bad = rng() % 100 < 3;
    const auto* reason = reasons[rng() % 4];
    std::time_t bsecs = began / 1000;
    std::tm tm{};
    ::gmtime_r(&bsecs, &tm);
    char bid[32];
    std::strftime(bid, sizeof bid, "%Y%m%dT%H%M%SZ", &tm);
    out << R"({"job":"nightly)" << batch << ".yaml#j" << i << R"(","batch":")" << bid << "-q0123-nightly" << batch
        << R"(.yaml","project_id":"p)" << i << R"(","status":")"
        << (bad ? (std::string(reason) == "timed_out" ? "timed_out" : "failed") : "succeeded") << '"';
    if (bad && std::string(reason) != "timed_out")
      out << R"(,"error":{"code":")" << reason << R"(","message":"what the API said about j)" << i << R"("})";
    out << R"(,"submitted_at":")" << stamp(submitted) << R"(","finished_at":")" << stamp(finished)
        << R"(","attempts":1,"requests":2)";
    if (!bad) out << R"(,"file":"/srv/videos/j)" << i << R"(.mp4","bytes":)" << 20'000'000 + rng() % 80'000'000;
    out << "}\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("exportd-bench-report");
  o.add_options()("help", "this help")("results", po::value<std::string>()->default_value("2000,100000"),
                                       "counts of results, comma-separated");
  po::variables_map vm;
  if (const auto exit = testing::parse_bench_options(argc, argv, o, vm)) return *exit;
  const bool browser = std::filesystem::exists("/usr/bin/chromium");
  std::printf("exportd-bench-report: exportd report of a night's results%s\n",
              browser ? ", then rendered by headless Chromium" : " (Chromium not installed: not rendered)");
  std::stringstream counts(vm["results"].as<std::string>());
  bool ok = true;
  for (std::string item; std::getline(counts, item, ',');) {
    const int n = std::stoi(item);
    testing::Workspace ws("bench-report");
    ws.write_config(1, false, "demo-key", "");
    std::filesystem::create_directories(ws.path("state"));
    write_results(ws.path("state/results.jsonl"), n);
    const auto r = testing::run_process(
        {testing::exportd_binary(), "report", "-c", ws.path("config.yaml"), "-o", ws.path("report.html")}, 600s);
    const auto size = r.exit_code == 0 ? std::filesystem::file_size(ws.path("report.html")) : 0;
    std::printf("  %7d results   report %6.2f s wall  %6.2f s cpu  peak RSS %6.1f MiB   page %7.1f KiB", n,
                r.wall_seconds, r.cpu_seconds, static_cast<double>(r.max_rss_kib) / 1024,
                static_cast<double>(size) / 1024);
    ok = ok && r.exit_code == 0;
    if (browser && r.exit_code == 0) {
      const auto dom = testing::run_process({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                             "--user-data-dir=" + ws.path("chromium"), "--dump-dom",
                                             "file://" + ws.path("report.html")},
                                            300s, {"HOME=" + ws.path("chromium")});
      std::printf("   rendered in %5.2f s: %zu lanes, %zu minutes, %zu failure reasons", dom.wall_seconds,
                  count(dom.out, "class=\"lane\""), count(dom.out, "class=\"minute\""),
                  count(dom.out, "<tr class=\"reason\">"));
      ok = ok && dom.exit_code == 0;
    }
    std::printf("\n");
  }
  return ok ? 0 : 1;
}
