// The morning report (SPEC §14) of a real run, rendered by a real browser:
// headless Chromium from the distribution loads the page exportd wrote and
// the test reads what it rendered (the DOM it built, and a screenshot).
// Without Chromium the test says so and is skipped; scripts/test installs it.

#include <gtest/gtest.h>

#include <filesystem>

#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using testing::Workspace;

constexpr const char* chromium = "/usr/bin/chromium";

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

testing::ProcessResult browse(const Workspace& ws, const std::vector<std::string>& what, const std::string& page) {
  std::vector<std::string> argv{chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                "--user-data-dir=" + ws.path("chromium"), "--window-size=1280,1600"};
  argv.insert(argv.end(), what.begin(), what.end());
  argv.push_back("file://" + page);
  return testing::run_process(argv, 120s, {"HOME=" + ws.path("chromium")});
}

TEST(Report, R01_TheReportOfARealRunRendersInABrowserWithALanePerJobAndTheFailures) {
  if (!std::filesystem::exists(chromium)) GTEST_SKIP() << "chromium is not installed (scripts/test installs it)";
  sim::Knobs k;
  k.export_min = 300ms;
  k.export_max = 1500ms;
  k.unknown_prefix = "gone";
  sim::Simulator sim(k);
  Workspace ws("report-browser");
  ws.write_config(sim.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 0\npolling:\n  first_poll_after: 250ms\n  min_interval: 250ms\n"
                  "  max_interval: 1s\n");
  std::string jobs = "jobs:\n";
  for (int i = 0; i < 36; ++i) jobs += "  - project_id: p" + std::to_string(i) + "\n";
  for (int i = 0; i < 4; ++i) jobs += "  - project_id: gone" + std::to_string(i) + "\n";
  ws.write("night.yaml", jobs);
  const auto run = testing::run_once(ws, 120s, {"--queue", ws.path("night.yaml")});
  ASSERT_EQ(run.exit_code, 1) << run.err;  // four failed
  const auto report = testing::run_process(
      {testing::exportd_binary(), "report", "-c", ws.path("config.yaml"), "-o", ws.path("report.html")}, 60s,
      {"TZ=Europe/Paris"});
  ASSERT_EQ(report.exit_code, 0) << report.err;

  // What the browser built from the page.
  const auto dom = browse(ws, {"--dump-dom"}, ws.path("report.html"));
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_EQ(count(dom.out, "class=\"lane\""), 40u);
  EXPECT_EQ(count(dom.out, "data-status=\"failed\""), 4u);
  EXPECT_NE(dom.out.find("<table id=\"failures\">"), std::string::npos);
  EXPECT_NE(dom.out.find("<td>PROJECT_NOT_FOUND</td><td class=\"n\">4</td>"), std::string::npos);
  EXPECT_NE(dom.out.find("<b>40</b>jobs"), std::string::npos);
  EXPECT_NE(dom.out.find(" CET"), std::string::npos);  // times in the operator's zone, named

  // Not blank: its picture against the same browser's picture of an empty page.
  ws.write("blank.html", "<!DOCTYPE html><html><body></body></html>");
  const auto shot = browse(ws, {"--screenshot=" + ws.path("report.png")}, ws.path("report.html"));
  const auto blank = browse(ws, {"--screenshot=" + ws.path("blank.png")}, ws.path("blank.html"));
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  ASSERT_EQ(blank.exit_code, 0) << blank.err;
  const auto drawn = std::filesystem::file_size(ws.path("report.png"));
  const auto empty = std::filesystem::file_size(ws.path("blank.png"));
  EXPECT_GT(drawn, 4 * empty) << "report.png " << drawn << " bytes, blank.png " << empty;
}

}  // namespace
}  // namespace exportd
