// Personalized videos (SPEC §12) end to end: a template and a CSV of rows
// through the daemon against the simulator, which now refuses create bodies
// that break the documented schema (as the API would), and records them so a
// test can read what arrived.

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using testing::Workspace;
namespace json = boost::json;

std::string fast_config(const Workspace& ws, bool videos, const std::string& limits = "") {
  return "limits:\n  requests_per_second: 0\n" + limits +
         "polling:\n  first_poll_after: 250ms\n  min_interval: 250ms\n  max_interval: 1s\n"
         "retry:\n  max_attempts: 4\n  initial_backoff: 100ms\n  max_backoff: 1s\n" +
         (videos ? "download:\n  dir: " + ws.path("videos") + "\n" : std::string());
}

sim::Knobs quick() {
  sim::Knobs k;
  k.export_min = 300ms;
  k.export_max = 800ms;
  return k;
}

// The template: the value goes into the script (HTML), a text clip's plain
// string, and the project's name.
constexpr const char* welcome = R"({"scenes": [{
  "sceneIdx": 0, "background": {"type": "background"},
  "clips": [
    {"id": "m", "type": "aiModel", "layer": 1, "top": 0, "left": 0, "height": 2229, "width": 679,
     "script": {"org": "<p>Hello, {{who}}!</p>", "tts": null}},
    {"id": "t", "type": "textImage", "layer": 2, "top": 0, "left": 0, "height": 10, "width": 10,
     "text": "{{who}}", "{{who}}": "keys are never filled"}
  ]}]})";

const std::string hostile = "Tom \"T\" \\ O'Brien & <Jerry>\nZoë Ñandú 東京";

std::string csv_quoted(const std::string& v) {
  std::string out = "\"";
  for (const char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Must show 2: a value holding " \ a line break & < ' and non-ASCII letters
// reaches the API exactly as meant: JSON-escaped everywhere (the body
// parses back to it), HTML-escaped in script.org only. Its video is
// downloaded and its result names its row.
TEST(Template, P01_AHostileValueArrivesInTheBodyExactlyAsIntended) {
  auto k = quick();
  k.record_create_bodies = true;
  k.serve_videos = true;
  k.video_min_bytes = 64 << 10;
  k.video_max_bytes = 128 << 10;
  sim::Simulator sim(k);
  Workspace ws("template-hostile");
  ws.write_config(sim.port(), false, "demo-key", fast_config(ws, true));
  ws.write("welcome.json", welcome);
  ws.write("people.csv", "customer_id,who\r\nc1,Ann\r\nc2," + csv_quoted(hostile) + "\r\n");
  ws.write("p.yaml", "jobs:\n  - template: welcome.json\n    rows: people.csv\n    id: \"{{customer_id}}\"\n"
                     "    name: \"Welcome, {{who}}\"\n");
  const auto r = testing::run_once(ws, 90s, {"--queue", ws.path("p.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto stats = sim.stats();
  ASSERT_EQ(stats.create_bodies.size(), 2u);
  EXPECT_EQ(stats.invalid_creates, 0u);
  bool seen = false;
  for (const auto& text : stats.create_bodies) {
    const auto body = json::parse(text).as_object();
    const auto& clips = body.at("scenes").at(0).at("clips").as_array();
    const std::string text_clip(clips.at(1).at("text").as_string());
    if (text_clip != hostile) continue;
    seen = true;
    // HTML-escaped in the script, and only there.
    EXPECT_EQ(clips.at(0).at("script").at("org").as_string(),
              "<p>Hello, Tom &quot;T&quot; \\ O&#39;Brien &amp; &lt;Jerry&gt;\nZoë Ñandú 東京!</p>");
    EXPECT_TRUE(clips.at(1).as_object().contains("{{who}}"));  // a key is never filled
    EXPECT_EQ(clips.at(1).at("{{who}}").as_string(), "keys are never filled");
    const std::string name(body.at("name").as_string());
    const auto tail = "] Welcome, " + hostile;  // after exportd's tag
    ASSERT_GE(name.size(), tail.size());
    EXPECT_EQ(name.substr(name.size() - tail.size()), tail) << name;
  }
  EXPECT_TRUE(seen) << "no create body held the value verbatim";
  const auto results = ws.results();
  ASSERT_EQ(results.size(), 2u);
  for (const auto& res : results) {
    EXPECT_EQ(res.at("status").as_string(), "succeeded") << json::serialize(res);
    const std::string job(res.at("job").as_string());
    EXPECT_EQ(res.at("row").as_int64(), job == "p.yaml#c1" ? 2 : 3) << json::serialize(res);
    EXPECT_TRUE(std::filesystem::exists(std::string(res.at("file").as_string()))) << json::serialize(res);
  }
}

// Must show 1 at the three doors: check, submit and intake refuse a file
// with one bad row whole, naming the row's cell; nothing is sent.
TEST(Template, P02_OneBadRowIsRefusedByCheckSubmitAndIntakeBeforeAnythingIsSent) {
  auto k = quick();
  sim::Simulator sim(k);
  Workspace ws("template-refused");
  ws.write_config(sim.port(), false, "demo-key", fast_config(ws, false) + "jobs:\n  scenes_root: " + ws.path("t") + "\n");
  ws.write("t/welcome.json", welcome);
  ws.write("t/people.csv", "customer_id,who\nc1,Ann\nc2,\nc3,Cy\n");
  const std::string job = "jobs:\n  - template: " + ws.path("t/welcome.json") + "\n    rows: " + ws.path("t/people.csv") +
                          "\n    id: \"{{customer_id}}\"\n";
  const auto file = ws.write("p.yaml", job);
  const auto where = ws.path("t/people.csv") + ":3:4: the cell of column 'who' is empty, and {{who}} is used in the "
                                              "template at /scenes/0/clips/0/script/org";
  const auto check = testing::run_process({testing::exportd_binary(), "check", "-c", ws.path("config.yaml"), file}, 20s);
  EXPECT_EQ(check.exit_code, 2);
  EXPECT_NE(check.err.find(where), std::string::npos) << check.err;
  const auto submit =
      testing::run_process({testing::exportd_binary(), "submit", "-c", ws.path("config.yaml"), file}, 20s);
  EXPECT_EQ(submit.exit_code, 2);
  EXPECT_NE(submit.err.find(where), std::string::npos) << submit.err;
  // Dropped straight into incoming/: the daemon rejects it whole.
  testing::ChildProcess daemon(testing::run_argv(ws));
  ASSERT_TRUE(testing::wait_ready(ws));
  ws.write("state/incoming/.p.yaml", job);
  std::filesystem::rename(ws.path("state/incoming/.p.yaml"), ws.path("state/incoming/p.yaml"));
  ASSERT_TRUE(testing::wait_until([&] { return std::filesystem::exists(ws.path("state/rejected/p.yaml.error")); }, 30s));
  EXPECT_NE(Workspace::read(ws.path("state/rejected/p.yaml.error")).find(where), std::string::npos);
  daemon.signal(SIGTERM);
  daemon.wait(20s);
  EXPECT_EQ(sim.stats().requests - sim.stats().token_requests, 0u) << "a call was made for a refused file";
}

// The simulator refuses a body that breaks the documented schema with the
// API's error envelope, so a scenes fault that got past exportd shows in a
// test. Asked as a client would: a token, then the create call.
TEST(Template, P03_TheSimulatorRefusesAScenesFaultTheWayTheApiDoes) {
  const std::string curl = "/usr/bin/curl";
  if (!std::filesystem::exists(curl)) GTEST_SKIP() << "curl is not installed (scripts/install-deps installs it)";
  sim::Simulator sim(quick());
  const auto base = "http://127.0.0.1:" + std::to_string(sim.port()) + "/api/odin/v3";
  const auto token_reply = testing::run_process(
      {curl, "-s", "-X", "POST", "-H", "Content-Type: application/json", "--data",
       R"({"appId":"demo-app","userKey":"demo-key"})", base + "/auth/token"},
      10s);
  const auto token = json::parse(token_reply.out).at("data").at("token").as_string();
  const auto create = [&](const std::string& body) {
    return testing::run_process({curl, "-s", "-X", "POST", "-H", "Content-Type: application/json", "-H",
                                 "Authorization: " + std::string(token), "--data", body, base + "/editor/project"},
                                10s)
        .out;
  };
  const std::string clip = R"({"id":"m","type":"aiModel","layer":1,"top":0,"left":0,"height":1,"width":1})";
  auto reply = create(R"({"scenes":[{"sceneIdx":0,"background":{},"clips":[)" + clip + "]}]}");
  EXPECT_NE(reply.find(R"("projectId")"), std::string::npos) << reply;
  for (const auto& [bad, why] : std::vector<std::pair<std::string, std::string>>{
           {R"({"sceneIdx":"x","background":{},"clips":[]})", "sceneIdx"},
           {R"({"sceneIdx":0,"clips":[]})", "background"},
           {R"({"sceneIdx":0,"background":{},"clips":[{"id":"m","type":"dragon","layer":1,"top":0,"left":0,"height":1,"width":1}]})", "type"},
           {R"({"sceneIdx":0,"background":{},"clips":[{"id":"m","type":"shape","layer":1,"left":0,"height":1,"width":1}]})", "top"},
       }) {
    reply = create(R"({"scenes":[)" + bad + "]}");
    const auto v = json::parse(reply).as_object();
    EXPECT_EQ(v.at("success"), false) << reply;
    EXPECT_NE(reply.find("INVALID_PARAMETER"), std::string::npos) << reply;
    EXPECT_NE(reply.find(why), std::string::npos) << reply;
  }
  EXPECT_EQ(sim.stats().invalid_creates, 4u);
  EXPECT_EQ(sim.stats().create_requests, 1u);
}

// A batch's rows file changed while it ran (between a kill -9 and the
// restart): its ids, and so its jobs, may not be the ones taken in. It is
// not run on from the new rows: set aside, each started job with a failed
// result, and no project created again.
TEST(Template, P04_ABatchWhoseRowsChangedIsSetAsideNotRunFromTheNewRows) {
  auto k = quick();
  k.export_min = 60s;  // nothing ends before the kill
  k.export_max = 60s;
  sim::Simulator sim(k);
  Workspace ws("template-rows-changed");
  ws.write_config(sim.port(), false, "demo-key", fast_config(ws, false, "  max_active_jobs: 2\n"));
  ws.write("state/incoming/welcome.json", welcome);
  ws.write("state/incoming/people.csv", "customer_id,who\nc1,Ann\nc2,Bo\nc3,Cy\nc4,Di\n");
  {
    testing::ChildProcess daemon(testing::run_argv(ws));
    ASSERT_TRUE(testing::wait_ready(ws));
    testing::drop_text(ws, "p.yaml",
                       "jobs:\n  - template: welcome.json\n    rows: people.csv\n    id: \"{{customer_id}}\"\n");
    ASSERT_TRUE(testing::wait_until([&] { return sim.stats().create_requests >= 2; }, 30s));
    daemon.signal(SIGKILL);
    daemon.wait(10s);
  }
  const auto created = sim.stats().create_requests;
  ws.write("state/incoming/people.csv", "customer_id,who\nx1,Ann\nx2,Bo\nx3,Cy\nx4,Di\n");
  std::filesystem::remove(ws.path("state/status.json"));
  testing::ChildProcess daemon(testing::run_argv(ws));
  ASSERT_TRUE(testing::wait_ready(ws)) << daemon.err_so_far();
  ASSERT_TRUE(testing::wait_until([&] { return ws.results().size() >= created; }, 30s)) << daemon.err_so_far();
  const auto results = ws.results();
  ASSERT_EQ(results.size(), created);
  for (const auto& r : results) {
    EXPECT_EQ(r.at("status").as_string(), "failed");
    EXPECT_EQ(r.at("error").at("code").as_string(), "job_file_changed") << json::serialize(r);
    EXPECT_NE(std::string(r.at("error").at("message").as_string()).find("rows file (CSV) that changed"),
              std::string::npos);
  }
  bool rejected = false;
  for (const auto& e : std::filesystem::directory_iterator(ws.path("state/rejected")))
    rejected = rejected || e.path().extension() == ".error";
  EXPECT_TRUE(rejected);
  std::this_thread::sleep_for(1s);  // a moment for a create that should not come
  EXPECT_EQ(sim.stats().create_requests, created);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(20s).exit_code, 0);
}

// A template may change between rows: the rows not yet sent use it once it
// passes the checks again; one that no longer does (a placeholder naming no
// column) fails those rows alone, with `template`, and sends nothing for them.
TEST(Template, P05_ATemplateChangedMidBatchIsCheckedAgainBeforeTheNextRowIsSent) {
  auto k = quick();
  k.export_min = 1500ms;
  k.export_max = 1500ms;
  k.record_create_bodies = true;
  sim::Simulator sim(k);
  Workspace ws("template-changed");
  ws.write_config(sim.port(), false, "demo-key", fast_config(ws, false, "  max_active_jobs: 1\n"));
  ws.write("welcome.json", welcome);
  ws.write("people.csv", "customer_id,who\nc1,Ann\nc2,Bo\nc3,Cy\n");
  ws.write("p.yaml", "jobs:\n  - template: welcome.json\n    rows: people.csv\n    id: \"{{customer_id}}\"\n");
  testing::ChildProcess daemon(testing::run_argv(ws, {"--once", "--queue", ws.path("p.yaml")}));
  ASSERT_TRUE(testing::wait_until([&] { return sim.stats().create_requests >= 1; }, 30s));
  auto broken = std::string(welcome);
  broken.replace(broken.find("{{who}}!"), 7, "{{nope}}");
  ws.write("welcome.json", broken);
  const auto r = daemon.wait(60s);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto results = ws.results();
  ASSERT_EQ(results.size(), 3u);
  std::size_t failed = 0;
  for (const auto& res : results) {
    if (res.at("status").as_string() == "succeeded") continue;
    ++failed;
    EXPECT_EQ(res.at("error").at("code").as_string(), "template") << json::serialize(res);
    EXPECT_NE(std::string(res.at("error").at("message").as_string()).find("{{nope}} names no column"),
              std::string::npos);
    EXPECT_EQ(res.at("submitted_at"), nullptr);
  }
  EXPECT_EQ(failed, 3u - sim.stats().create_requests);
  EXPECT_GE(failed, 1u);
  EXPECT_EQ(sim.stats().invalid_creates, 0u);
}

}  // namespace
}  // namespace exportd
