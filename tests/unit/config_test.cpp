#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "hooks/hook_keys.hpp"
#include "hooks/receiver.hpp"
#include "jobs/job_file.hpp"
#include "temp_dir.hpp"
#include "text/file_name.hpp"
#include "time/duration.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

TEST(Duration, ParsesEachUnit) {
  EXPECT_EQ(parse_duration("250ms"), Millis(250));
  EXPECT_EQ(parse_duration("5s"), Millis(5000));
  EXPECT_EQ(parse_duration("10m"), Millis(600'000));
  EXPECT_EQ(parse_duration("2h"), Millis(7'200'000));
  EXPECT_EQ(parse_duration("0s"), Millis(0));
}

TEST(Duration, RejectsWhatIsNotADuration) {
  for (const char* bad : {"", "5", "s", "5 s", "-5s", "5sec", "1.5s", "5S", "99999999999999999999h"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(Duration, FormatsShortestExactUnit) {
  EXPECT_EQ(format_duration(Millis(250)), "250ms");
  EXPECT_EQ(format_duration(Millis(90'000)), "90s");
  EXPECT_EQ(format_duration(Millis(120'000)), "2m");
  EXPECT_EQ(format_duration(Millis(7'200'000)), "2h");
  EXPECT_EQ(format_eta(Millis(65'000)), "1m05s");
}

// LINE and COL of a rejected file's first problem ("FILE:LINE:COL: what").
std::pair<int, int> first_position(const Failure& f, const std::string& path) {
  const std::string line(f.first_line());
  int l = 0, c = 0;
  if (line.rfind(path + ":", 0) == 0) std::sscanf(line.c_str() + path.size() + 1, "%d:%d", &l, &c);
  return {l, c};
}

using ConfigFile = TempDir;

TEST_F(ConfigFile, FullConfigIsReadWithRelativePathsResolved) {
  const auto path = write("c.yaml", R"(api:
  base_url: https://app.aistudios.com
  app_id: my-app
  user_key_file: key.txt
  ca_file: ca.pem
  request_timeout: 10s
  token_refresh_after: 1h
state_dir: state
queue_files: [nightly.yaml]
limits:
  max_active_jobs: 500
  max_connections: 4
  requests_per_second: 0
polling:
  first_poll_after: 5s
  min_interval: 1s
  max_interval: 30s
  job_timeout: 1h
retry:
  max_attempts: 3
  initial_backoff: 250ms
  max_backoff: 10s
defaults:
  resolution: "720"
  workspace_id: ws-9
log:
  level: debug
  format: json
)");
  auto c = load_config(path);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->api.app_id, "my-app");
  EXPECT_EQ(c->api.user_key_file, (dir_ / "key.txt").string());
  EXPECT_EQ(c->api.ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(c->api.endpoint.host, "app.aistudios.com");
  EXPECT_EQ(c->api.endpoint.port, 443);
  EXPECT_EQ(c->api.request_timeout, Millis(10'000));
  EXPECT_EQ(c->state_dir, (dir_ / "state").string());
  ASSERT_EQ(c->queue_files.size(), 1u);
  EXPECT_EQ(c->queue_files[0], (dir_ / "nightly.yaml").string());
  EXPECT_EQ(c->limits.max_connections, 4u);
  EXPECT_EQ(c->limits.requests_per_second, 0u);
  EXPECT_EQ(c->polling.min_interval, Millis(1000));
  EXPECT_EQ(c->retry.initial_backoff, Millis(250));
  EXPECT_EQ(c->defaults.resolution, "720");
  EXPECT_EQ(c->log.level, LogLevel::debug);
  EXPECT_EQ(c->log.format, LogFormat::json);
}

TEST_F(ConfigFile, DefaultsApplyWhenSectionsAreMissing) {
  const auto path = write("c.yaml", "api:\n  app_id: a\n  user_key_env: KEY\n");
  auto c = load_config(path);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->api.token_refresh_after, Millis(23 * 3'600'000));
  EXPECT_EQ(c->limits.max_connections, 8u);
  EXPECT_EQ(c->limits.requests_per_second, 20u);
  EXPECT_EQ(c->polling.first_poll_after, Millis(10'000));
  EXPECT_EQ(c->retry.max_attempts, 8u);
  EXPECT_EQ(c->defaults.resolution, "1080");
}

struct BadConfig {
  const char* text;
  int line;
  int column;
  const char* words;
};

TEST_F(ConfigFile, EachProblemIsReportedWithLineAndColumn) {
  const BadConfig cases[] = {
      {"api:\n  app_id: a\n  user_key_env: K\n  base_ulr: https://x\n", 4, 3, "unknown key 'base_ulr' in api"},
      {"api:\n  app_id: a\n  user_key_env: K\npolling:\n  min_interval: 3\n", 5, 17, "not a duration"},
      {"api:\n  app_id: a\n  user_key_env: K\n  base_url: http://example.com\n", 4, 13, "http:// is refused"},
      {"api:\n  app_id: a\n  user_key_env: K\nlimits:\n  max_connections: many\n", 5, 20, "whole number"},
      {"api:\n  app_id: a\n  user_key_env: K\ndefaults:\n  resolution: 8k\n", 5, 15, "not one of 4k"},
      {"api:\n  app_id: a\n  user_key_env: K\nlog:\n  level: loud\n", 5, 10, "log.level"},
      {"api:\n  app_id: [a\n", 3, 1, "YAML syntax error"},
      {"api:\n  user_key_env: K\n", 2, 3, "app_id is required"},
      {"api:\n  app_id: a\n", 2, 3, "exactly one of user_key_file, user_key_env or user_key_credential"},
      {"api:\n  app_id: a\n  user_key_env: K\nqueue_files: nightly.yaml\n", 4, 14, "must be a list"},
      {"api:\n  app_id: a\n  user_key_env: K\nwebhook:\n  listen: localhost:80\n  public_url: https://h\n", 5, 11,
       "not HOST:PORT"},
      {"api:\n  app_id: a\n  user_key_env: K\nwebhook:\n  listen: 127.0.0.1:8710\n  public_url: http://h.example\n",
       6, 15, "http:// is refused"},
      {"api:\n  app_id: a\n  user_key_env: K\nwebhook:\n  listen: 127.0.0.1:8710\n", 5, 3, "set both listen and public_url"},
      {"api:\n  app_id: a\n  user_key_env: K\ndownload:\n  dir: /srv\n  name: \"{file}/{title}.mp4\"\n", 6, 9,
       "{title} is not one of"},
      {"api:\n  app_id: a\n  user_key_env: K\ndownload:\n  dir: /srv\n  name: ../{id}.mp4\n", 6, 9, "'..' segment"},
      {"api:\n  app_id: a\n  user_key_env: K\ndownload:\n  dir: /srv\n  name: /tmp/{id}.mp4\n", 6, 9, "starts with '/'"},
      {"api:\n  app_id: a\n  user_key_env: K\ndownload:\n  dir: /srv\n  max_concurrent: 0\n", 6, 19, "max_concurrent"},
      {"api:\n  app_id: a\n  user_key_env: K\nmetrics:\n  listen: 9464\n", 5, 11, "metrics.listen"},
      {"api:\n  app_id: a\n  user_key_env: K\nwebhook:\n  listen: 127.0.0.1:8710\n  public_url: https://h\nmetrics:\n"
       "  listen: 127.0.0.1:8710\n",
       8, 11, "must not be webhook.listen"},
      {"api:\n  app_id: a\n  user_key_env: K\nretention:\n  results_max_size: 256\n", 5, 21, "not a size"},
      {"api:\n  app_id: a\n  user_key_env: K\nretention:\n  results_max_size: 1KiB\n", 5, 21, "at least 4KiB"},
      {"api:\n  app_id: a\n  user_key_env: K\nretention:\n  done_day: 3\n", 5, 3, "unknown key 'done_day'"},
  };
  for (const auto& c : cases) {
    const auto path = write("bad.yaml", c.text);
    const auto r = load_config(path);
    ASSERT_FALSE(r) << c.text;
    const auto& f = r.error();
    EXPECT_TRUE(f.is(Errc::invalid_input)) << f;
    EXPECT_EQ(first_position(f, path), std::make_pair(c.line, c.column)) << c.text << "\n" << f;
    EXPECT_NE(f.message.find(c.words), std::string::npos) << f;
    EXPECT_EQ(f.message.rfind(path + ":", 0), 0u) << f;
  }
}

TEST_F(ConfigFile, DownloadsAreOffUnlessADirIsSetAndARelativeDirIsTheConfigs) {
  auto off = load_config(write("c.yaml", "api:\n  app_id: a\n  user_key_env: K\n"));
  ASSERT_TRUE(off) << off.error();
  EXPECT_FALSE(off->download.enabled());
  EXPECT_EQ(off->defaults.download_name, "");
  auto on = load_config(write("d.yaml", "api:\n  app_id: a\n  user_key_env: K\ndownload:\n  dir: videos\n"));
  ASSERT_TRUE(on) << on.error();
  EXPECT_EQ(on->download.dir, (dir_ / "videos").string());
  EXPECT_EQ(on->download.name, "{file}/{id}.mp4");
  EXPECT_EQ(on->download.max_concurrent, 4u);
  EXPECT_EQ(on->defaults.download_name, "{file}/{id}.mp4");  // every job file is checked against it
}

TEST_F(ConfigFile, MetricsAreOffAndRetentionHasItsDefaultsUnlessSet) {
  auto plain = load_config(write("c.yaml", "api:\n  app_id: a\n  user_key_env: K\n"));
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_FALSE(plain->metrics.enabled());
  EXPECT_EQ(plain->retention.results_max_size, 256ull << 20);
  EXPECT_EQ(plain->retention.done_days, 30u);
  auto set = load_config(write("d.yaml", "api:\n  app_id: a\n  user_key_env: K\nmetrics:\n  listen: "
                                         "127.0.0.1:9464\nretention:\n  results_max_size: 64KiB\n  results_keep: 3\n"
                                         "  done_days: 7\n  done_max_files: 50\n"));
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(set->metrics.listen, "127.0.0.1:9464");
  EXPECT_EQ(set->retention.results_max_size, 64u * 1024);
  EXPECT_EQ(set->retention.results_keep, 3u);
  EXPECT_EQ(set->retention.done_days, 7u);
  EXPECT_EQ(set->retention.done_max_files, 50u);
}

TEST_F(ConfigFile, SweepsAreOnByDefaultAndTheirSettingsAreChecked) {
  auto plain = load_config(write("c.yaml", "api:\n  app_id: a\n  user_key_env: K\n"));
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(plain->polling.sweep_every, std::chrono::seconds(1));
  EXPECT_EQ(plain->polling.sweep_min_jobs, 30u);
  auto set = load_config(write("d.yaml", "api:\n  app_id: a\n  user_key_env: K\npolling:\n  sweep_every: 2s\n"
                                         "  sweep_min_jobs: 200\n"));
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(set->polling.sweep_every, std::chrono::seconds(2));
  EXPECT_EQ(set->polling.sweep_min_jobs, 200u);
  auto off = load_config(write("e.yaml", "api:\n  app_id: a\n  user_key_env: K\npolling:\n  sweep_every: 0s\n"));
  ASSERT_TRUE(off) << off.error();
  EXPECT_EQ(off->polling.sweep_every.count(), 0);
  const auto path = write("f.yaml", "api:\n  app_id: a\n  user_key_env: K\npolling:\n  sweep_every: 100ms\n");
  auto bad = load_config(path);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(path + ":5:16: polling.sweep_every must be 0"), std::string::npos)
      << bad.error().message;
}

TEST_F(ConfigFile, UserKeyComesFromFileOrEnvironmentTrimmed) {
  ApiSettings a;
  a.user_key_file = write("key", "s3cret\n");
  EXPECT_EQ(read_user_key(a).value(), "s3cret");
  a.user_key_file = (dir_ / "absent").string();
  const auto absent = read_user_key(a);
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().message.find("absent"), std::string::npos);
  EXPECT_EQ(absent.error().code, boost::system::error_code(ENOENT, boost::system::system_category()));
  a.user_key_file.clear();
  a.user_key_env = "EXPORTD_UNIT_TEST_KEY";
  ::setenv("EXPORTD_UNIT_TEST_KEY", "from-env", 1);
  EXPECT_EQ(read_user_key(a).value(), "from-env");
  ::setenv("EXPORTD_UNIT_TEST_KEY", "", 1);
  const auto empty = read_user_key(a);
  ASSERT_FALSE(empty);
  EXPECT_TRUE(empty.error().is(Errc::invalid_input)) << empty.error();
}

using JobFile = TempDir;

TEST_F(JobFile, ReadsBothKindsWithDefaultsAndKeys) {
  write("welcome.json", R"({"scenes": [{"sceneIdx": 0, "background": {}, "clips": []}]})");
  const auto path = write("batch.yaml", R"(jobs:
  - project_id: 65fa6b07dca2e367461a2925
    resolution: 4k
    workspace_id: ws-1
    webhook_url: https://example.com/hook
    id: intro
  - project_id: abc
  - scenes_file: welcome.json
    name: Welcome video
    orientation: portrait
)");
  JobDefaults defaults;
  defaults.resolution = "720";
  auto jobs = load_job_file(path, defaults);
  ASSERT_TRUE(jobs) << jobs.error();
  ASSERT_EQ(jobs->size(), 3u);
  EXPECT_EQ((*jobs)[0].key, "batch.yaml#intro");
  EXPECT_EQ((*jobs)[0].resolution, "4k");
  EXPECT_EQ((*jobs)[0].webhook_url, "https://example.com/hook");
  EXPECT_EQ((*jobs)[1].key, "batch.yaml#abc");
  EXPECT_EQ((*jobs)[1].resolution, "720");
  EXPECT_EQ((*jobs)[2].kind, JobKind::create_project);
  EXPECT_EQ((*jobs)[2].scenes_file, (dir_ / "welcome.json").string());
  EXPECT_EQ((*jobs)[2].name, "Welcome video");
  EXPECT_EQ((*jobs)[2].orientation, "portrait");
}

TEST_F(JobFile, ASingleJobNeedsNoList) {
  const auto path = write("one.yaml", "project_id: p1\n");
  auto jobs = load_job_file(path, {});
  ASSERT_TRUE(jobs) << jobs.error();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].key, "one.yaml#p1");
}

TEST_F(JobFile, EachJobsVideoFileIsMadeWhenTheFileIsRead) {
  write("welcome.json", R"({"scenes": [{"sceneIdx": 0, "background": {}, "clips": []}]})");
  const auto path = write("nightly.yaml", R"(jobs:
  - project_id: p1
  - project_id: p2
    id: intro
    resolution: 720
  - scenes_file: welcome.json
    id: welcome
)");
  JobDefaults defaults;
  defaults.download_name = "{file}/{id}-{resolution}.mp4";
  auto jobs = load_job_file(path, defaults);
  ASSERT_TRUE(jobs) << jobs.error();
  EXPECT_EQ((*jobs)[0].file_name, "nightly/p1-1080.mp4");
  EXPECT_EQ((*jobs)[1].file_name, "nightly/intro-720.mp4");
  EXPECT_EQ((*jobs)[2].file_name, "nightly/welcome-1080.mp4");
  // A create job's project id is known only once the project exists.
  defaults.download_name = "{project_id}.mp4";
  jobs = load_job_file(path, defaults);
  ASSERT_TRUE(jobs) << jobs.error();
  EXPECT_EQ((*jobs)[0].file_name, "p1.mp4");
  EXPECT_EQ((*jobs)[2].file_name, "");
}

TEST_F(JobFile, AVideoNameThatWouldLeaveTheFolderOrClashIsRefusedWithItsLine) {
  write("welcome.json", R"({"scenes": [{"sceneIdx": 0, "background": {}, "clips": []}]})");
  const BadConfig cases[] = {
      // A scenes_file job with no id: its id is the path, which holds '/'.
      {"jobs:\n  - scenes_file: ./welcome.json\n", 2, 18, "{id} holds '/'"},
      {"jobs:\n  - project_id: a\n  - project_id: b\n    id: ..\n", 4, 9, "{id} is '..'"},
      {"jobs:\n  - project_id: a\n    resolution: 720\n  - project_id: a\n    id: second\n", 4, 5,
       "same file as job 'a'"},
  };
  JobDefaults defaults;
  for (const auto& c : cases) {
    defaults.download_name = std::string(c.words).find("same file") != std::string::npos ? "{project_id}.mp4"
                                                                                         : "{file}/{id}.mp4";
    const auto path = write("jobs.yaml", c.text);
    const auto r = load_job_file(path, defaults);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(first_position(r.error(), path), std::make_pair(c.line, c.column)) << c.text << r.error();
    EXPECT_NE(r.error().message.find(c.words), std::string::npos) << r.error();
  }
}

TEST(FileName, PutsPlainValuesInAndRefusesAnyThatCouldLeaveTheFolder) {
  const NameValues v{"nightly", "intro", "65fa6b07", "1080"};
  EXPECT_EQ(render_name("{file}/{id}.mp4", v).value(), "nightly/intro.mp4");
  EXPECT_EQ(render_name("{resolution}/{project_id}-{id}.mp4", v).value(), "1080/65fa6b07-intro.mp4");
  EXPECT_EQ(render_name("all.mp4", v).value(), "all.mp4");
  for (const auto* id : {"a/b", "..", ".", "", "bad\x01", "\xff\xfe"}) {
    const auto r = render_name("{file}/{id}.mp4", {"nightly", id, "p", "1080"});
    ASSERT_FALSE(r) << id;
    EXPECT_NE(r.error().message.find("{id}"), std::string::npos) << r.error();
  }
  EXPECT_FALSE(render_name("{file}/{id}.mp4", {"nightly", std::string(201, 'x'), "p", "1080"}));
  // ".." made of two values, or a value next to literal dots, is still one plain name.
  const auto dots = render_name("{id}{id}", {"n", ".", "p", "1"});
  ASSERT_FALSE(dots);
  EXPECT_NE(dots.error().message.find("{id} is '.'"), std::string::npos) << dots.error();
  EXPECT_FALSE(render_name("x/{id}/", {"n", "a", "p", "1"}));
}

// Issue 25, H12: with download.name "{file}/{id}", jobs v.mp4 and
// v.mp4.part both passed: the second's part file was the first's video. No
// final name may end in ".part", the name a video has while it downloads.
TEST(FileName, NoVideoIsNamedLikeAnotherVideosPartFile) {
  const auto part = render_name("{file}/{id}", {"q", "v.mp4.part", "p", "1080"});
  ASSERT_FALSE(part);
  EXPECT_NE(part.error().message.find(".part"), std::string::npos) << part.error();
  EXPECT_TRUE(render_name("{file}/{id}", {"q", "v.mp4", "p", "1080"}));
  EXPECT_TRUE(render_name("{file}/{id}.mp4", {"q", "v.part", "p", "1080"})) << "only the last segment's end counts";
  EXPECT_NE(name_template_problem("{file}/{id}.part"), "");
  EXPECT_EQ(name_template_problem("{file}.part/{id}.mp4"), "");
}

TEST_F(JobFile, AJobWhoseVideoWouldBeAnotherJobsPartFileIsRefusedWithItsPosition) {
  JobDefaults defaults;
  defaults.download_name = "{file}/{id}";
  const auto path = write("q.yaml", "jobs:\n  - project_id: a\n    id: v.mp4\n  - project_id: b\n    id: v.mp4.part\n");
  const auto r = load_job_file(path, defaults);
  ASSERT_FALSE(r);
  EXPECT_EQ(first_position(r.error(), path), std::make_pair(5, 9)) << r.error();
  EXPECT_NE(r.error().message.find("'.part'"), std::string::npos) << r.error();
}

TEST(FileName, ATemplateIsARelativePathWithKnownPlaceholders) {
  EXPECT_EQ(name_template_problem("{file}/{id}.mp4"), "");
  EXPECT_EQ(name_template_problem("videos/{resolution}/{project_id}.mp4"), "");
  EXPECT_NE(name_template_problem("{title}.mp4"), "");
  EXPECT_NE(name_template_problem("{id.mp4"), "");
  EXPECT_NE(name_template_problem("id}.mp4"), "");
  EXPECT_NE(name_template_problem("/abs/{id}.mp4"), "");
  EXPECT_NE(name_template_problem("../{id}.mp4"), "");
  EXPECT_NE(name_template_problem("a/./{id}.mp4"), "");
  EXPECT_NE(name_template_problem("a//{id}.mp4"), "");
  EXPECT_NE(name_template_problem("{id}/"), "");
  EXPECT_NE(name_template_problem(""), "");
  EXPECT_EQ(file_stem("nightly.yaml"), "nightly");
  EXPECT_EQ(file_stem("a.b.yml"), "a.b");
  EXPECT_EQ(file_stem(".hidden"), ".hidden");
  EXPECT_EQ(file_stem("plain"), "plain");
}

TEST_F(JobFile, AnyProblemRejectsTheWholeFile) {
  write("bad.json", "{not json");
  const BadConfig cases[] = {
      {"jobs:\n  - project_id: a\n  - project_id: b\n    resolutoin: 4k\n", 4, 5, "unknown key 'resolutoin'"},
      {"jobs:\n  - project_id: a\n    resolution: 8k\n", 3, 17, "resolution '8k'"},
      {"jobs:\n  - project_id: a\n  - project_id: a\n", 3, 5, "duplicate job id 'a'"},
      {"jobs:\n  - project_id: a\n    scenes_file: x.json\n", 2, 5, "exactly one of project_id"},
      {"jobs:\n  - scenes_file: nowhere.json\n", 2, 18, "cannot open scenes file"},
      {"jobs:\n  - scenes_file: bad.json\n", 2, 18, "not valid JSON"},
      {"jobs:\n  - project_id: a\n   - project_id: b\n", 3, 4, "YAML syntax error"},
      {"jobs:\n  - project_id: [a, b]\n", 2, 17, "single value"},
      {"jobs: {project_id: a}\n", 1, 7, "'jobs' must be a list"},
      {"jobs:\n  - project_id: a\n    webhook_url: ftp://x\n", 3, 18, "webhook_url"},
      {"- project_id: a\n", 1, 1, "a list under 'jobs:'"},
  };
  for (const auto& c : cases) {
    const auto path = write("jobs.yaml", c.text);
    const auto r = load_job_file(path, {});
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(first_position(r.error(), path), std::make_pair(c.line, c.column)) << c.text << r.error();
    EXPECT_NE(r.error().message.find(c.words), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace exportd

namespace exportd {
namespace {

TEST(ListenAddress, TakesAnIpAndAPortOnly) {
  const auto v4 = parse_listen_address("127.0.0.1:8710");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8710);
  const auto v6 = parse_listen_address("[::1]:9000");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  for (const char* bad : {"", "8710", ":8710", "localhost:8710", "::1:8710", "127.0.0.1:", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:80x", "[::1]"})
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
}

TEST(HookTokens, AreStableHexOf128BitsAndDifferPerJob) {
  const HookKeys a(std::string(32, 's'));
  const HookKeys b(std::string(32, 't'));
  const auto t = a.token_for("batch-1", "q.yaml#p1");
  EXPECT_TRUE(looks_like_hook_token(t)) << t;
  EXPECT_EQ(t, a.token_for("batch-1", "q.yaml#p1"));
  EXPECT_NE(t, a.token_for("batch-1", "q.yaml#p2"));
  EXPECT_NE(t, a.token_for("batch-2", "q.yaml#p1"));
  EXPECT_NE(t, b.token_for("batch-1", "q.yaml#p1"));
  EXPECT_FALSE(looks_like_hook_token(t.substr(1)));
  EXPECT_FALSE(looks_like_hook_token(std::string(32, 'G')));
}

TEST(HookTokens, AreFoundAtTheEndOfAnyPathAProxyMayKeepOrStrip) {
  EXPECT_EQ(hook_token_in("/hooks/abc"), "abc");
  EXPECT_EQ(hook_token_in("/exportd/hooks/abc?progress=100&download_url=x"), "abc");
  EXPECT_EQ(hook_token_in("/a/hooks/b/hooks/abc"), "abc");
  EXPECT_EQ(hook_token_in("/hooks/abc/more"), "");
  EXPECT_EQ(hook_token_in("/hook/abc"), "");
  EXPECT_EQ(hook_token_in("/"), "");
}

}  // namespace
}  // namespace exportd
