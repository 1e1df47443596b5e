// The morning report (SPEC §14), pure: results lines in, one HTML page out.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "ops/report.hpp"
#include "ops/time_format.hpp"

namespace exportd {
namespace {

namespace json = boost::json;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

ReportOptions options() {
  ReportOptions o;
  o.scope = "the last 24 h";
  o.local_time = [](WallTime t) { return rfc3339(t) + " UTC"; };
  o.written = *parse_rfc3339("2026-12-06T07:00:00Z");
  return o;
}

std::vector<ReportJob> night(int jobs, int failed) {
  std::vector<ReportJob> out;
  for (int i = 0; i < jobs; ++i) {
    const bool bad = i < failed;
    const auto line = json::parse(
        R"({"job":"nightly.yaml#j)" + std::to_string(i) + R"(","batch":"20261206T020000Z-q0123-nightly.yaml",)" +
        R"("project_id":"p","status":")" + (bad ? std::string("failed") : std::string("succeeded")) + R"(",)" +
        (bad ? R"("error":{"code":"download_failed","message":"the host kept cutting"},)" : std::string()) +
        R"("submitted_at":"2026-12-06T02:00:0)" + std::to_string(i % 10) + R"(.000Z",)" +
        R"("finished_at":"2026-12-06T02:)" + (i % 50 + 1 < 10 ? "0" : "") + std::to_string(i % 50 + 1) +
        R"(:00.000Z","attempts":1,"requests":2,"file":"/v/j.mp4","bytes":1048576})");
    auto job = report_job(line.as_object());
    EXPECT_TRUE(job) << i;
    if (job) out.push_back(std::move(*job));
  }
  return out;
}

TEST(Report, OneLanePerJobTheFailuresByReasonAndTheFigures) {
  const auto page = render_report(night(40, 3), options());
  EXPECT_EQ(count(page, "<g class=\"lane\""), 40u);
  EXPECT_EQ(count(page, "data-status=\"failed\""), 3u);
  EXPECT_NE(page.find("<table id=\"failures\">"), std::string::npos);
  EXPECT_EQ(count(page, "<tr class=\"reason\">"), 1u);
  EXPECT_NE(page.find("<td>download_failed</td><td class=\"n\">3</td>"), std::string::npos) << page;
  EXPECT_NE(page.find(std::string(what_to_do("download_failed"))), std::string::npos);
  EXPECT_NE(page.find("<b>40</b>jobs"), std::string::npos);
  EXPECT_NE(page.find("<b>2.00</b>API calls per job"), std::string::npos);
  EXPECT_NE(page.find("2026-12-06T02:00:00.000Z UTC"), std::string::npos);  // the zone written with the time
  // Self-contained: nothing fetched, no script.
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("href="), std::string::npos);
}

TEST(Report, PastTheLaneLimitTheNightIsStackedCountsPerMinute) {
  auto o = options();
  o.lanes_max = 100;
  const auto page = render_report(night(500, 20), o);
  EXPECT_EQ(count(page, "<g class=\"lane\""), 0u);
  EXPECT_GE(count(page, "<g class=\"minute\""), 50u);  // one per minute of the ~50-minute night
  EXPECT_NE(page.find("aria-label=\"jobs per minute\""), std::string::npos);
}

TEST(Report, WhatAFileOrTheApiSaidIsEscaped) {
  auto jobs = night(2, 1);
  jobs[0].job = "a.yaml#<script>alert(1)</script>";
  jobs[0].message = "<img src=x onerror=alert(1)> & \"quotes\"";
  const auto page = render_report(jobs, options());
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

TEST(Report, ALaneShowsExportingDownloadingAndDeliveringEachFromItsStart) {
  auto jobs = night(1, 0);
  jobs[0].exported = *jobs[0].submitted + std::chrono::seconds(30);
  jobs[0].delivering = *jobs[0].exported + std::chrono::seconds(20);
  const auto page = render_report(jobs, options());
  EXPECT_EQ(count(page, "class=\"exporting\""), 1u);
  EXPECT_EQ(count(page, "class=\"downloading\""), 1u);
  EXPECT_EQ(count(page, "class=\"delivering\""), 1u);
  // Without those times (no downloads, no delivery) the export runs to the end.
  const auto plain = render_report(night(1, 0), options());
  EXPECT_EQ(count(plain, "class=\"downloading\""), 0u);
  EXPECT_EQ(count(plain, "class=\"delivering\""), 0u);
}

TEST(Report, NothingInTheSpanSaysSo) {
  const auto page = render_report({}, options());
  EXPECT_NE(page.find("No job ended in this span."), std::string::npos);
}

TEST(Report, ALineThatIsNotAResultIsSkipped) {
  EXPECT_FALSE(report_job(json::parse(R"({"job":"x"})").as_object()));
  EXPECT_FALSE(report_job(json::parse(R"({"job":"x","status":"succeeded","finished_at":"yesterday"})").as_object()));
  const auto j = report_job(json::parse(R"({"job":"x","status":"timed_out","finished_at":"2026-12-06T02:00:00Z",)"
                                        R"("batch":"20261206T010000Z-1-x.yaml"})")
                                .as_object());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->code, "timed_out");
  EXPECT_EQ(rfc3339(*j->queued), "2026-12-06T01:00:00.000Z");
}

}  // namespace
}  // namespace exportd
