// Sweeps end to end (SPEC §8, schedule/sweep.hpp): with many jobs polled,
// exportd asks the simulator for its project list once a second over HTTPS
// instead of reading each job, and reads a job once when the list shows it
// exported. The list shows only its newest page: the jobs beyond it are
// polled on their own, and every job still ends.

#include <cstdlib>
#include <iostream>
#include <map>

#include <gtest/gtest.h>

#include "test_certs.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using testing::Workspace;

TEST(Sweeps, ManyJobsEndOnTheListsWordAndThoseBeyondItsPageOnTheirOwn) {
  Workspace ws("sweeps");
  testing::make_test_certs(ws.path("pki"), "127.0.0.1");
  const sim::TlsFiles files{ws.path("pki/server.pem"), ws.path("pki/server.key")};
  sim::Knobs k;
  k.export_min = 12s;  // longer than the first read's 10 s: a job read on its own costs two reads or more
  k.export_max = 18s;
  k.list_page = 28;    // the newest 28 of 40
  sim::Simulator sim(k, "127.0.0.1", 0, &files);
  ws.write_config(sim.port(), true, "demo-key", "limits:\n  requests_per_second: 0\nqueue_files: [jobs.yaml]\n",
                  "  ca_file: pki/ca.pem\n");
  ws.write_export_jobs("jobs.yaml", 40);
  const auto r = testing::run_once(ws, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (std::getenv("SWEEP_TEST_LOG")) std::cerr << r.err;
  std::map<std::string, int> ended;
  for (const auto& res : ws.results()) ++ended[std::string(res.at("status").as_string())];
  EXPECT_EQ(ended["succeeded"], 40);
  const auto s = sim.stats();
  EXPECT_GT(s.list_requests, 5u);
  EXPECT_LE(s.list_requests, 40u) << "about one a second while the exports ran";
  int one_read = 0, more = 0;
  for (const auto& [id, calls] : s.calls_by_project) {  // the export and the progress reads
    if (calls == 2) ++one_read;
    if (calls >= 3) ++more;
  }
  EXPECT_GE(one_read, 20) << "the listed jobs are read once, when the list shows them exported";
  EXPECT_GE(more, 10) << "the 12 beyond the list's page are read on their own schedule";
  EXPECT_EQ(s.duplicate_exports, 0u);
}

// A list in pages of 15 that says so (total, page, size, and ?page=&size=
// honoured): each sweep follows the pages until all 40 jobs are listed, so
// every job ends on the list's word and one confirming read.
TEST(Sweeps, APagedListIsFollowedToItsLastPageAndEveryJobEndsOnOneRead) {
  Workspace ws("sweeps-paged");
  sim::Knobs k;
  k.export_min = 12s;
  k.export_max = 18s;
  k.list_page = 15;
  k.list_paged = true;
  sim::Simulator sim(k);
  ws.write_config(sim.port(), false, "demo-key", "limits:\n  requests_per_second: 0\nqueue_files: [jobs.yaml]\n");
  ws.write_export_jobs("jobs.yaml", 40);
  const auto r = testing::run_once(ws, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> ended;
  for (const auto& res : ws.results()) ++ended[std::string(res.at("status").as_string())];
  EXPECT_EQ(ended["succeeded"], 40);
  const auto s = sim.stats();
  int one_read = 0;
  for (const auto& [id, calls] : s.calls_by_project) one_read += calls == 2;
  std::cout << "[ figures  ] " << one_read << " of 40 jobs ended on one read; " << s.list_requests
            << " list calls; " << s.progress_requests << " progress reads\n";
  EXPECT_GE(one_read, 36) << "jobs beyond the first page are swept too";
  // Three pages a beat at most while all 40 run, fewer as they end; a beat a second.
  EXPECT_LE(s.list_requests, 3u * 25u);
  EXPECT_EQ(s.duplicate_exports, 0u);
}

}  // namespace
}  // namespace exportd
