// Delivery (SPEC §13) end to end: each finished job's video handed on by a
// real tool from the distribution (rclone, to a local remote) and by
// hostile commands — failing, hanging, given a file name with spaces and
// quotes — with the environment a command sees read from /proc.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <boost/json/serialize.hpp>

#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
using testing::Workspace;
namespace fs = std::filesystem;

sim::Knobs videos() {
  sim::Knobs k;
  k.export_min = 300ms;
  k.export_max = 900ms;
  k.serve_videos = true;
  k.video_min_bytes = 256 << 10;
  k.video_max_bytes = 1 << 20;
  return k;
}

std::string config(const Workspace& ws, const std::string& deliver) {
  return "limits:\n  requests_per_second: 0\npolling:\n  first_poll_after: 250ms\n  min_interval: 250ms\n"
         "  max_interval: 1s\nretry:\n  max_attempts: 2\n  initial_backoff: 100ms\n  max_backoff: 200ms\n"
         "download:\n  dir: " +
         ws.path("videos") + "\n" + deliver;
}

std::string bytes_of(const std::string& path) { return Workspace::read(path); }

TEST(Delivery, D01_RcloneToALocalRemoteHandsOnEveryVideoWhole) {
  if (!fs::exists("/usr/bin/rclone")) GTEST_SKIP() << "rclone is not installed (scripts/test installs it)";
  sim::Simulator sim(videos());
  Workspace ws("deliver-rclone");
  ws.write("rclone.conf", "[archive]\ntype = local\n");
  ws.write_config(sim.port(), false, "demo-key",
                  config(ws, "deliver:\n  command: [rclone, copyto, \"{file_path}\", \"archive:" + ws.path("remote") +
                                 "/{file}/{id}.mp4\"]\n  env: [RCLONE_CONFIG]\n  timeout: 60s\n"));
  std::string jobs = "jobs:\n";
  for (int i = 0; i < 8; ++i) jobs += "  - project_id: p" + std::to_string(i) + "\n";
  jobs += "  - project_id: q0\n    id: \"it's a \\\"quoted\\\" name\"\n";  // spaces and quotes in {id}
  ws.write("night.yaml", jobs);
  const auto r = testing::run_once(ws, 120s, {"--queue", ws.path("night.yaml")}, {"RCLONE_CONFIG=" + ws.path("rclone.conf")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto results = ws.results();
  ASSERT_EQ(results.size(), 9u);
  for (const auto& res : results) {
    ASSERT_EQ(res.at("status").as_string(), "succeeded") << boost::json::serialize(res);
    EXPECT_TRUE(res.contains("delivered_at"));
    EXPECT_EQ(res.at("delivery_attempts").as_int64(), 1);
    const std::string job(res.at("job").as_string());
    const auto id = job.substr(job.find('#') + 1);
    const auto remote = ws.path("remote/night/" + id + ".mp4");
    ASSERT_TRUE(fs::exists(remote)) << remote;
    EXPECT_EQ(bytes_of(remote), bytes_of(std::string(res.at("file").as_string()))) << id;
  }
}

TEST(Delivery, D02_AFailingOrHangingCommandIsRetriedThenTheJobFailsWithItsFileKept) {
  sim::Simulator sim(videos());
  Workspace ws("deliver-hostile");
  ws.write("deliver.sh",
           "#!/bin/sh\ncase \"$EXPORTD_ID\" in\n"
           "  fail) echo 'the bucket is gone' >&2; exit 3 ;;\n"
           "  hang) sleep 600 & sleep 600 ;;\n"
           "  *) tr '\\0' '\\n' < /proc/$$/environ > \"$1/$EXPORTD_ID.env\" ;;\nesac\n");
  fs::permissions(ws.path("deliver.sh"), fs::perms::owner_all);
  fs::create_directories(ws.path("seen"));
  // The key from the environment this time, so a leak would show.
  ws.write_config(sim.port(), false, "demo-key",
                  config(ws, "deliver:\n  command: [\"" + ws.path("deliver.sh") + "\", \"" + ws.path("seen") +
                                 "\"]\n  timeout: 1s\n"),
                  "  user_key_env: EXPORTD_TEST_KEY\n");
  auto text = Workspace::read(ws.path("config.yaml"));
  text.replace(text.find("  user_key_file: user_key\n"), 26, "");
  ws.write("config.yaml", text);
  ws.write("night.yaml", "jobs:\n  - project_id: p0\n    id: fail\n  - project_id: p1\n    id: hang\n"
                         "  - project_id: p2\n    id: fine\n");
  const auto r = testing::run_once(ws, 120s, {"--queue", ws.path("night.yaml")}, {"EXPORTD_TEST_KEY=demo-key"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::map<std::string, boost::json::object> by_id;
  for (const auto& res : ws.results()) {
    const std::string job(res.at("job").as_string());
    by_id[job.substr(job.find('#') + 1)] = res;
  }
  ASSERT_EQ(by_id.size(), 3u);
  EXPECT_EQ(by_id["fine"].at("status").as_string(), "succeeded");
  for (const auto* id : {"fail", "hang"}) {
    const auto& res = by_id[id];
    EXPECT_EQ(res.at("status").as_string(), "failed") << id;
    EXPECT_EQ(res.at("error").at("code").as_string(), "delivery_failed") << id;
    EXPECT_EQ(res.at("delivery_attempts").as_int64(), 2) << id;
    EXPECT_TRUE(fs::exists(std::string(res.at("file").as_string()))) << id << ": the file is kept";
    EXPECT_FALSE(std::string(res.at("download_url").as_string()).empty()) << id;
  }
  EXPECT_NE(std::string(by_id["fail"].at("error").at("message").as_string()).find("exit 3; its output ends: the bucket is gone"),
            std::string::npos);
  EXPECT_NE(std::string(by_id["hang"].at("error").at("message").as_string()).find("still running after 1s"),
            std::string::npos);
  // What the command's environment held: ours only, never the key or a token.
  const auto env = Workspace::read(ws.path("seen/fine.env"));
  EXPECT_NE(env.find("EXPORTD_FILE_PATH=" + std::string(by_id["fine"].at("file").as_string())), std::string::npos) << env;
  EXPECT_NE(env.find("EXPORTD_DELIVERY_ID="), std::string::npos);
  EXPECT_EQ(env.find("demo-key"), std::string::npos) << env;
  EXPECT_EQ(env.find("EXPORTD_TEST_KEY"), std::string::npos) << env;
  for (const auto& token : sim.stats().issued_tokens) EXPECT_EQ(env.find(token), std::string::npos);
}

// The config with its key from the environment (so a leak through deliver.env can be tried).
void write_env_key_config(const Workspace& ws, const std::string& extra) {
  ws.write_config(1, false, "demo-key", extra, "  user_key_env: EXPORTD_TEST_KEY\n");
  auto text = Workspace::read(ws.path("config.yaml"));
  text.replace(text.find("  user_key_file: user_key\n"), 26, "");
  ws.write("config.yaml", text);
}

// exportd check says what a delivery cannot do before a night is spent on it.
TEST(Delivery, D03_CheckRefusesACommandThatCannotRun) {
  Workspace ws("deliver-check");
  write_env_key_config(ws, "download:\n  dir: " + ws.path("videos") +
                               "\ndeliver:\n  command: [no-such-program-exportd, \"{file_path}\"]\n");
  auto r = testing::run_process({testing::exportd_binary(), "check", "-c", ws.path("config.yaml")}, 30s,
                                {"EXPORTD_TEST_KEY=k"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(ws.path("config.yaml") + ":9:12: deliver.command: no-such-program-exportd is not found in PATH"),
            std::string::npos)
      << r.err;
  write_env_key_config(ws, "deliver:\n  command: [sh, \"{file_path}\", \"{nope}\"]\n  env: [EXPORTD_TEST_KEY]\n");
  r = testing::run_process({testing::exportd_binary(), "check", "-c", ws.path("config.yaml")}, 30s,
                           {"EXPORTD_TEST_KEY=k"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("{nope} is not a placeholder deliver.command knows"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("deliver.env must not pass EXPORTD_TEST_KEY"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace exportd
