// The exactly-once rules of a create job (jobs/create_lookup.hpp): which
// failures put a create in doubt, where its tag goes, and the lookup that
// settles the doubt, page by page. Pure code: replies in, a verdict out.

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "jobs/create_lookup.hpp"
#include "jobs/job_file.hpp"
#include "jobs/scenes.hpp"

namespace exportd {
namespace {

namespace json = boost::json;

constexpr std::string_view list_path = "/api/odin/v3/editor/project";

ApiResult<json::object> page(std::string_view text) { return json::parse(text).as_object(); }

ApiError http_error(Errc kind, int status) { return ApiError{kind, status, "http_" + std::to_string(status), "x", {}}; }

// Finding 4: a create answered by anything that does not say "not processed" is in doubt.
TEST(CreateRule, OnlyAnAnswerThatSaysNotProcessedLetsACreateGoAgain) {
  // May have made a project: HTTP 500, 503, 502, 504; a 200 that is an HTML page or a cut-short envelope;
  // a reply lost after the request went out.
  for (int status : {500, 502, 503, 504})
    EXPECT_TRUE(create_may_have_taken_effect(http_error(Errc::overloaded, status)));
  EXPECT_TRUE(create_may_have_taken_effect(http_error(Errc::malformed, 200)));  // HTML, or a JSON cut short
  EXPECT_TRUE(
      create_may_have_taken_effect(http_error(Errc::malformed, 404)));  // a proxy's page, not the API's envelope
  ApiError lost{Errc::transport, 0, "transport", "reading reply: end of stream", {}};
  lost.maybe_processed = true;
  EXPECT_TRUE(create_may_have_taken_effect(lost));
  // Not processed: nothing was written, the token was refused, 408/429, the API's own refusal.
  EXPECT_FALSE(create_may_have_taken_effect(ApiError{Errc::transport, 0, "transport", "connect refused", {}}));
  for (int status : {401, 403}) EXPECT_FALSE(create_may_have_taken_effect(http_error(Errc::unauthorized, status)));
  for (int status : {408, 429}) EXPECT_FALSE(create_may_have_taken_effect(http_error(Errc::overloaded, status)));
  EXPECT_FALSE(create_may_have_taken_effect(ApiError{Errc::rejected, 200, "INVALID_PARAMETER", "scenes", {}}));
  EXPECT_FALSE(create_may_have_taken_effect(ApiError{Errc::unauthorized, 200, "TOKEN_EXPIRED", "expired", {}}));
}

// Finding 3: the tag goes first, where a list that cuts names keeps it, and it alone is compared.
TEST(CreateTag, TheTagLeadsTheNameAndAloneIsCompared) {
  const auto tag = create_tag("20261206T000000Z-0001-night.yaml", "night.yaml#welcome");
  EXPECT_EQ(tag.size(), 24u);
  EXPECT_EQ(tag, create_tag("20261206T000000Z-0001-night.yaml", "night.yaml#welcome"));  // every run of the batch
  EXPECT_NE(tag, create_tag("20261206T000000Z-0001-night.yaml", "night.yaml#other"));
  const auto name = tagged_project_name("Tom & Jerry   welcome " + std::string(100, 'x'), tag);
  EXPECT_EQ(name.rfind("[" + tag + "] Tom & Jerry", 0), 0u);
  EXPECT_EQ(tagged_project_name("", tag), "[" + tag + "]");
  // As lists were seen to show it: HTML-escaped, spaces squeezed and trimmed, cut to 80 characters.
  EXPECT_TRUE(names_tag("[" + tag + "] Tom &amp; Jerry welcome", tag));
  EXPECT_TRUE(names_tag("[" + tag + "] Tom & Jerry welcome xxxx", tag));
  EXPECT_TRUE(names_tag(name.substr(0, 80), tag));
  EXPECT_TRUE(names_tag("Welcome video [" + tag + "]", tag));  // the tag at the end, as before: still found
  EXPECT_FALSE(names_tag(name.substr(0, 20), tag));
  EXPECT_FALSE(names_tag("Tom & Jerry welcome", tag));
  EXPECT_FALSE(names_tag("anything", ""));
}

std::string items(std::initializer_list<std::pair<const char*, std::string>> projects) {
  std::string out = "[";
  for (const auto& [id, name] : projects) {
    if (out.size() > 1) out += ",";
    out += R"({"id":")" + std::string(id) + R"(","name":")" + name + R"(","state":"exported"})";
  }
  return out + "]";
}

// Finding 1: the tag on page 3 is found; every page is read before "absent".
TEST(CreateLookup, ReadsEveryPageUntilItsTag) {
  const std::string tag = "exportd-00112233aabbccdd";
  CreateLookup lookup(tag, {});
  auto s = lookup.on_page(page(R"({"items":)" + items({{"a", "A"}, {"b", "B"}}) + R"(,"total":6,"page":1,"size":2})"),
                          list_path);
  ASSERT_EQ(s.kind, CreateLookup::Step::Kind::next);
  EXPECT_EQ(s.query.page, 2u);
  EXPECT_EQ(s.query.size, 2u);
  s = lookup.on_page(page(R"({"items":)" + items({{"c", "C"}, {"d", "D"}}) + R"(,"total":6,"page":2,"size":2})"),
                     list_path);
  ASSERT_EQ(s.kind, CreateLookup::Step::Kind::next);
  EXPECT_EQ(s.query.page, 3u);
  s = lookup.on_page(page(R"({"items":)" + items({{"e", "E"}, {"prj-9", "[" + tag + "] Welcome"}}) +
                          R"(,"total":6,"page":3,"size":2})"),
                     list_path);
  ASSERT_EQ(s.kind, CreateLookup::Step::Kind::found);
  EXPECT_EQ(s.project, "prj-9");

  // Not there: absent only after the last page.
  CreateLookup none(tag, {});
  ASSERT_EQ(none.on_page(page(R"({"items":)" + items({{"a", "A"}, {"b", "B"}}) + R"(,"total":3,"page":1,"size":2})"),
                         list_path)
                .kind,
            CreateLookup::Step::Kind::next);
  EXPECT_EQ(
      none.on_page(page(R"({"items":)" + items({{"c", "C"}}) + R"(,"total":3,"page":2,"size":2})"), list_path).kind,
      CreateLookup::Step::Kind::absent);
  EXPECT_EQ(none.pages(), 2u);
}

TEST(CreateLookup, FollowsNextLinksAndHasMoreAndEndsOnAShortOrEmptyPage) {
  const std::string tag = "exportd-00112233aabbccdd";
  CreateLookup by_link(tag, {});
  auto s = by_link.on_page(
      page(R"({"items":)" + items({{"a", "A"}}) + R"(,"next":"/api/odin/v3/editor/project?cursor=xyz"})"), list_path);
  ASSERT_EQ(s.kind, CreateLookup::Step::Kind::next);
  EXPECT_EQ(s.query.next_target, "/api/odin/v3/editor/project?cursor=xyz");
  EXPECT_EQ(by_link.on_page(page(R"({"items":)" + items({{"b", "B"}}) + R"(,"next":null})"), list_path).kind,
            CreateLookup::Step::Kind::absent);

  CreateLookup more(tag, {});
  s = more.on_page(page(R"({"items":)" + items({{"a", "A"}}) + R"(,"hasMore":true})"), list_path);
  ASSERT_EQ(s.kind, CreateLookup::Step::Kind::next);
  EXPECT_EQ(s.query.page, 2u);
  EXPECT_EQ(more.on_page(page(R"({"items":)" + items({{"b", "B"}}) + R"(,"hasMore":false})"), list_path).kind,
            CreateLookup::Step::Kind::absent);

  CreateLookup short_page(tag, {});
  EXPECT_EQ(short_page.on_page(page(R"({"items":)" + items({{"a", "A"}}) + R"(,"page":1,"size":50})"), list_path).kind,
            CreateLookup::Step::Kind::absent);
  CreateLookup empty(tag, {});
  EXPECT_EQ(empty.on_page(page(R"({"items":[],"page":1,"size":50,"total":0})"), list_path).kind,
            CreateLookup::Step::Kind::absent);
}

// Finding 2: a list that is refused or unreadable is "unknown", retried, never "absent".
TEST(CreateLookup, ARefusedOrUnreadableListIsUnknownNeverAbsent) {
  const std::string tag = "exportd-00112233aabbccdd";
  const auto verdict = [&](const ApiResult<json::object>& reply) {
    CreateLookup lookup(tag, {});
    return lookup.on_page(reply, list_path);
  };
  auto s = verdict(ApiError{Errc::rejected, 404, "404", "no such endpoint", {}});
  EXPECT_EQ(s.kind, CreateLookup::Step::Kind::unknown);
  ASSERT_TRUE(s.why);
  EXPECT_TRUE(is_transient(s.why->kind));  // retried with backoff, like any transient failure
  s = verdict(page(R"({"rows":)" + items({{"prj-1", "[" + tag + "] W"}}) + "}"));
  EXPECT_EQ(s.kind, CreateLookup::Step::Kind::unknown);
  EXPECT_EQ(s.why->code, "list_unreadable");
  EXPECT_EQ(verdict(page(R"({"items":{"a":1}})")).kind, CreateLookup::Step::Kind::unknown);
  // Transient and run-stopping failures go on as they came.
  s = verdict(ApiError{Errc::overloaded, 503, "http_503", "busy", {}});
  EXPECT_EQ(s.why->code, "http_503");
  s = verdict(ApiError{Errc::tls, 0, "tls", "bad certificate", {}});
  EXPECT_EQ(s.why->kind, Errc::tls);
}

TEST(CreateLookup, AListThatLeavesOutAKnownProjectOrLoopsCannotSay) {
  const std::string tag = "exportd-00112233aabbccdd";
  // No paging said, and a project of the batch known to exist is missing: a window.
  CreateLookup window(tag, {"prj-1", "prj-2"});
  auto s = window.on_page(page(R"({"items":)" + items({{"prj-2", "B"}, {"prj-3", "C"}}) + "}"), list_path);
  EXPECT_EQ(s.kind, CreateLookup::Step::Kind::unknown);
  EXPECT_EQ(s.why->code, "list_window");
  CreateLookup whole(tag, {"prj-1", "prj-2"});
  EXPECT_EQ(whole.on_page(page(R"({"items":)" + items({{"prj-1", "A"}, {"prj-2", "B"}}) + "}"), list_path).kind,
            CreateLookup::Step::Kind::absent);
  // A reply for another page than the one asked for.
  CreateLookup ignores(tag, {});
  ASSERT_EQ(
      ignores.on_page(page(R"({"items":)" + items({{"a", "A"}}) + R"(,"total":9,"page":1,"size":1})"), list_path).kind,
      CreateLookup::Step::Kind::next);
  EXPECT_EQ(
      ignores.on_page(page(R"({"items":)" + items({{"a", "A"}}) + R"(,"total":9,"page":1,"size":1})"), list_path).kind,
      CreateLookup::Step::Kind::unknown);
  // A next link back to a page read before.
  CreateLookup loop(tag, {});
  const auto looped = R"({"items":)" + items({{"a", "A"}}) + R"(,"next":"/api/odin/v3/editor/project?p=2"})";
  ASSERT_EQ(loop.on_page(page(looped), list_path).kind, CreateLookup::Step::Kind::next);
  EXPECT_EQ(loop.on_page(page(R"({"items":)" + items({{"b", "B"}}) + R"(,"next":"/api/odin/v3/editor/project?p=2"})"),
                         list_path)
                .kind,
            CreateLookup::Step::Kind::unknown);
  // Past the page cap.
  CreateLookup capped(tag, {}, 2);
  ASSERT_EQ(
      capped.on_page(page(R"({"items":)" + items({{"a", "A"}}) + R"(,"total":9,"page":1,"size":1})"), list_path).kind,
      CreateLookup::Step::Kind::next);
  s = capped.on_page(page(R"({"items":)" + items({{"b", "B"}}) + R"(,"total":9,"page":2,"size":1})"), list_path);
  EXPECT_EQ(s.kind, CreateLookup::Step::Kind::unknown);
  EXPECT_EQ(s.why->code, "list_too_long");
}

}  // namespace
}  // namespace exportd

namespace exportd {
namespace {

class ScenesFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("exportd-scenes-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "drop" / "sub");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string root() const { return (dir_ / "drop").string(); }
  std::filesystem::path dir_;
};

// Finding 8: many jobs naming one unchanged file parse it once; a changed file is read again.
TEST_F(ScenesFiles, OneUnchangedFileIsParsedOnceAndAChangedOneAgain) {
  const auto path = write("drop/s.json", R"([{"sceneIdx":0,"background":{},"clips":[]}])");
  ScenesCache cache;
  auto first = cache.read(path, root());
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ((*first)->text, R"([{"sceneIdx":0,"background":{},"clips":[]}])");
  auto second = cache.read(path, root());
  ASSERT_TRUE(second);
  EXPECT_EQ(first->get(), second->get());  // the same text, not parsed again
  write("drop/s.json", R"({"scenes":[{"sceneIdx":1,"background":{},"clips":[]},{"sceneIdx":2,"background":{},"clips":[]}]})");
  auto third = cache.read(path, root());
  ASSERT_TRUE(third);
  EXPECT_NE(first->get(), third->get());
  EXPECT_EQ((*third)->text, R"([{"sceneIdx":1,"background":{},"clips":[]},{"sceneIdx":2,"background":{},"clips":[]}])");
  write("drop/s.json", "[");
  EXPECT_FALSE(cache.read(path, root()));  // broken now: the job fails, nothing is sent
}

// Finding 7: below its folder, no link is followed, wherever on the way it is swapped in.
TEST_F(ScenesFiles, ALinkBelowTheFolderIsRefusedNotFollowed) {
  const auto outside = write("outside.json", R"([{"sceneIdx":0,"background":{},"clips":[],"secret":1}])");
  std::filesystem::create_symlink(outside, dir_ / "drop" / "s.json");
  ScenesCache cache;
  auto read = cache.read((dir_ / "drop" / "s.json").string(), root());
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("never read through a link"), std::string::npos) << read.error().message;
  // A folder on the way swapped for a link.
  std::filesystem::create_directories(dir_ / "elsewhere");
  write("elsewhere/s.json", R"([{"secret":2}])");
  std::filesystem::remove_all(dir_ / "drop" / "sub");
  std::filesystem::create_directory_symlink(dir_ / "elsewhere", dir_ / "drop" / "sub");
  read = cache.read((dir_ / "drop" / "sub" / "s.json").string(), root());
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("symbolic link"), std::string::npos) << read.error().message;
  // Not below the folder at all.
  EXPECT_FALSE(cache.read(outside, root()));
  // The operator's own files (no folder): links are theirs to use.
  EXPECT_TRUE(cache.read((dir_ / "drop" / "s.json").string(), ""));
}

// Finding 6: a restart reads a batch's job file by paths only. A job whose
// scenes file is gone does not set the file aside; nor does one taken in under
// a jobs.scenes_root since changed: that job, if not yet sent, fails alone.
TEST_F(ScenesFiles, ARestartReadsAJobFileByPathsOnly) {
  std::filesystem::create_directories(dir_ / "extra");
  const auto extra = write("extra/x.json", R"([{"sceneIdx":0,"background":{},"clips":[]}])");
  const auto job_file = write("drop/j.yaml",
                              "jobs:\n  - scenes_file: gone.json\n    id: a\n"
                              "  - scenes_file: " +
                                  extra + "\n    id: b\n");
  JobDefaults defaults;
  defaults.drop_scenes_root = (dir_ / "extra").string();
  // Taken in: every scenes file read; the missing one refuses the file.
  auto intake = load_job_file(job_file, defaults, drop_file_origin("j.yaml", root(), defaults));
  ASSERT_FALSE(intake);
  EXPECT_NE(intake.error().message.find("j.yaml:2:18: cannot open scenes file"), std::string::npos)
      << intake.error().message;
  // At a restart, with jobs.scenes_root since removed: read by paths only.
  const JobDefaults now;
  auto recovered =
      load_job_file(job_file, now, drop_file_origin("j.yaml", root(), now), nullptr, ScenesCheck::path_only);
  ASSERT_TRUE(recovered) << recovered.error().message;
  ASSERT_EQ(recovered->size(), 2u);
  EXPECT_EQ((*recovered)[1].scenes_root, root());
  ScenesCache cache;
  EXPECT_FALSE(cache.read((*recovered)[1].scenes_file, (*recovered)[1].scenes_root));  // fails alone when sent
}

TEST(CreateRequest, TheScenesTextIsSentAsTheParsedScenesWouldBe) {
  const ApiEndpoint ep = *parse_endpoint("https://app.aistudios.com");
  ExportOrder order{"", "[exportd-00112233aabbccdd] Tom & \"Jerry\"", "portrait", "1080", "ws", "https://h/x"};
  const auto scenes = json::parse(R"([{"sceneIdx":0,"clips":[{"script":{"org":"<b>hi</b>"}}]}])");
  const auto parsed = create_request(ep, order, scenes);
  const auto text = create_request(ep, order, SerializedJson{json::serialize(scenes)});
  EXPECT_EQ(parsed.body, text.body);
  const auto body = json::parse(text.body).as_object();
  EXPECT_EQ(body.at("scenes"), scenes);
  EXPECT_EQ(body.at("isExport"), true);
  EXPECT_EQ(body.at("name").as_string(), order.name);
}

}  // namespace
}  // namespace exportd
