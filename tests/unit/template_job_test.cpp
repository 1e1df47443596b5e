// A personalized batch (SPEC §12): a `template:` + `rows:` job becomes one
// create job per CSV row, and every check is made, at its FILE:LINE:COL,
// before anything is sent. The scenes schema holds for scenes files too.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "jobs/job_file.hpp"

namespace exportd {
namespace {

namespace fs = std::filesystem;

constexpr const char* welcome = R"({"scenes": [{
  "sceneIdx": 0,
  "background": {"type": "background"},
  "clips": [{"id": "m", "type": "aiModel", "layer": 1, "top": 146.7, "left": 630.2, "height": 2229, "width": 679,
             "script": {"org": "<p>Hello, {{first_name}}!</p>"}}]
}]})";

constexpr const char* job = "jobs:\n"
                            "  - template: welcome.json\n"
                            "    rows: people.csv\n"
                            "    id: \"{{customer_id}}\"\n"
                            "    name: \"Welcome, {{first_name}}\"\n";

class TemplateJob : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("exportd-template-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write("welcome.json", welcome);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  Result<std::vector<JobSpec>> load(const std::string& rows, const std::string& jobs = job,
                                    const JobDefaults& defaults = {}) {
    write("people.csv", rows);
    return load_job_file(write("batch.yaml", jobs), defaults);
  }
  // The file's rejection, which must hold `line` whole.
  void expect_refused(const Result<std::vector<JobSpec>>& r, const std::string& line) {
    ASSERT_FALSE(r) << "accepted; expected: " << line;
    EXPECT_NE(r.error().message.find(line), std::string::npos) << r.error().message;
  }

  fs::path dir_;
};

TEST_F(TemplateJob, EachRowIsOneCreateJobKeyedByItsIdAndNamingItsLine) {
  JobDefaults defaults;
  defaults.download_name = "{file}/{id}.mp4";
  const auto r = load("customer_id,first_name\nc1,Ann\n\"c2\",\"Tom, Jr.\"\r\nc3,\"Zoë\nX\"\n", job, defaults);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  const auto& c2 = (*r)[1];
  EXPECT_EQ(c2.key, "batch.yaml#c2");
  EXPECT_EQ(c2.kind, JobKind::create_project);
  EXPECT_EQ(c2.name, "Welcome, Tom, Jr.");
  EXPECT_EQ(c2.rows->template_file, path("welcome.json"));
  EXPECT_EQ(c2.file_name, "batch/c2.mp4");
  EXPECT_EQ(c2.row_line(), 3u);
  EXPECT_EQ((*r)[2].row_line(), 4u);
  EXPECT_EQ((*r)[2].name, "Welcome, Zoë\nX");
  // The rows are held once, for all of the entry's jobs.
  EXPECT_EQ((*r)[0].rows.get(), (*r)[2].rows.get());
  EXPECT_EQ((*r)[0].rows->value(0, "first_name"), "Ann");
  EXPECT_FALSE(rows_digest(*r).empty());
}

TEST_F(TemplateJob, MalformedCsvIsRefusedAtItsCell) {
  expect_refused(load("customer_id,first_name\nc1,\"Ann\nc2,Bo\n"),
                 path("people.csv") + ":2:4: this quoted cell is never closed");
  expect_refused(load("customer_id,first_name\nc1,Ann\nc2,Bo,extra\n"),
                 path("people.csv") + ":3:1: this row has 3 cells and the first line names 2 columns");
  expect_refused(load("customer_id,first_name\nc1,An\xff\n"), path("people.csv") + ":2:1: this line is not valid UTF-8");
}

TEST_F(TemplateJob, APlaceholderThatNamesNoColumnIsRefused) {
  // In the template: the JSON pointer of the string that holds it.
  write("welcome.json", std::string(welcome).replace(std::string(welcome).find("{{first_name}}"), 14, "{{frist_name}}"));
  expect_refused(load("customer_id,first_name\nc1,Ann\n"),
                 path("batch.yaml") + ":2:15: " + path("welcome.json") +
                     ": /scenes/0/clips/0/script/org: {{frist_name}} names no column of " + path("people.csv") +
                     " (its columns: customer_id, first_name)");
  write("welcome.json", welcome);
  // In a job field: at the field.
  const std::string typo = "jobs:\n  - template: welcome.json\n    rows: people.csv\n    id: \"{{customer_id}}\"\n"
                           "    name: \"Hi {{name}}\"\n";
  expect_refused(load("customer_id,first_name\nc1,Ann\n", typo),
                 path("batch.yaml") + ":5:11: {{name}} names no column of " + path("people.csv"));
  // A placeholder never closed.
  const std::string open = "jobs:\n  - template: welcome.json\n    rows: people.csv\n    id: \"{{customer_id\"\n";
  expect_refused(load("customer_id,first_name\nc1,Ann\n", open),
                 path("batch.yaml") + ":4:9: id: a '{{' is never closed with '}}'");
}

TEST_F(TemplateJob, AnEmptyCellAPlaceholderUsesIsRefusedAtTheCell) {
  expect_refused(load("customer_id,first_name,unused\nc1,Ann,\nc2,,x\n"),
                 path("people.csv") +
                     ":3:4: the cell of column 'first_name' is empty, and {{first_name}} is used in the job's name");
  // A column nothing uses may be empty.
  EXPECT_TRUE(load("customer_id,first_name,unused\nc1,Ann,\n"));
}

TEST_F(TemplateJob, TwoRowsWithOneIdAreRefusedAtTheSecond) {
  expect_refused(load("customer_id,first_name\nc1,Ann\nc2,Bo\nc1,Cy\n"),
                 path("people.csv") + ":4:1: duplicate job id 'c1' in this file (also the row at line 2 of " +
                     path("people.csv") + ")");
  // An id that names no column would give every row the same one.
  const std::string fixed = "jobs:\n  - template: welcome.json\n    rows: people.csv\n    id: same\n";
  expect_refused(load("customer_id,first_name\nc1,Ann\n", fixed), path("batch.yaml") + ":4:9: id 'same' names no column");
}

TEST_F(TemplateJob, AnIdOrFileNameThatIsNotAllowedIsRefusedAtItsCell) {
  JobDefaults defaults;
  defaults.download_name = "{file}/{id}.mp4";
  // A '/' would leave the video's folder (SPEC §10).
  auto r = load("customer_id,first_name\nc1,Ann\n../x,Bo\n", job, defaults);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(path("people.csv") + ":3:1: "), std::string::npos) << r.error().message;
  // Spaces around an id.
  expect_refused(load("customer_id,first_name\n c1,Ann\n"),
                 path("people.csv") + ":2:1: id ' c1' has leading or trailing spaces (the job's id from this row)");
  // Two rows whose videos would be one file.
  defaults.download_name = "{file}.mp4";
  r = load("customer_id,first_name\nc1,Ann\nc2,Bo\n", job, defaults);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(path("people.csv") + ":3:1: job 'c2' would download to the same file as job 'c1'"),
            std::string::npos)
      << r.error().message;
}

TEST_F(TemplateJob, ACellOver64KiBAndTooManyRowsAreRefused) {
  expect_refused(load("customer_id,first_name\nc1,\"" + std::string(65 * 1024, 'a') + "\"\n"),
                 path("people.csv") + ":2:4: this cell is over 64 KiB");
  JobDefaults defaults;
  defaults.max_rows = 3;
  expect_refused(load("customer_id,first_name\nc1,A\nc2,B\nc3,C\nc4,D\n", job, defaults),
                 path("people.csv") + ":5:1: more than 3 rows (limits.max_rows)");
  EXPECT_TRUE(load("customer_id,first_name\nc1,A\nc2,B\nc3,C\n", job, defaults));
}

TEST_F(TemplateJob, ManyBadRowsAreNamedInAScreenfulWithACount) {
  std::string rows = "customer_id,first_name\n";
  for (int i = 0; i < 500; ++i) rows += "c" + std::to_string(i) + ",\n";
  const auto r = load(rows);
  ASSERT_FALSE(r);
  const auto& m = r.error().message;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 20) << m;  // 20 rows in full and a count
  EXPECT_NE(m.find(path("people.csv") + ":2:4: "), std::string::npos);
  EXPECT_NE(m.find(path("people.csv") + ":21:5: "), std::string::npos);
  EXPECT_EQ(m.find(path("people.csv") + ":22:5: the cell"), std::string::npos);
  EXPECT_NE(m.find(path("people.csv") + ":22:5: and 480 more problems from here on, not shown (500 rows have problems in all)"),
            std::string::npos);
}

TEST_F(TemplateJob, EveryJobFieldMayHoldAPlaceholderAndIsCheckedPerRow) {
  const std::string fields = "jobs:\n  - template: welcome.json\n    rows: people.csv\n    id: \"{{customer_id}}\"\n"
                             "    resolution: \"{{res}}\"\n";
  const auto r = load("customer_id,first_name,res\nc1,Ann,720\nc2,Bo,4k\n", fields);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].resolution, "720");
  EXPECT_EQ((*r)[1].resolution, "4k");
  expect_refused(load("customer_id,first_name,res\nc1,Ann,720\nc2,Bo,8k\n", fields),
                 path("people.csv") +
                     ":3:7: resolution '8k' is not one of 4k, 1080, 720, 480 (the job's resolution from this row)");
}

TEST_F(TemplateJob, TemplateAndRowsGoTogetherAndNeedAnId) {
  expect_refused(load("customer_id\nc1\n", "jobs:\n  - template: welcome.json\n    id: x\n"),
                 path("batch.yaml") + ":2:15: template and rows go together");
  expect_refused(load("customer_id\nc1\n", "jobs:\n  - template: welcome.json\n    rows: people.csv\n"),
                 path("batch.yaml") + ":2:5: a template job needs an 'id'");
  expect_refused(load("customer_id\nc1\n", "jobs:\n  - template: welcome.json\n    rows: people.csv\n"
                                           "    scenes_file: welcome.json\n    id: \"{{customer_id}}\"\n"),
                 "a job needs exactly one of project_id");
}

// Each rule of the create call's documented schema, at its JSON pointer,
// for a scenes file (and so for a template, read by the same check).
TEST(ScenesSchema, EachDocumentedRuleIsCheckedAtItsJsonPointer) {
  const auto dir = fs::temp_directory_path() / ("exportd-schema-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto scenes = (dir / "bad.json").string();
  std::ofstream(scenes) << R"({"scenes": [
    {"sceneIdx": "x", "clips": [
      {"id": "a", "type": "dragon", "layer": 1, "top": 0, "left": 0, "height": 1, "width": 1},
      {"type": "image", "layer": 1.5, "top": "0", "left": 0, "width": 1, "scaleX": "2"}
    ]},
    {"sceneIdx": 1, "background": [], "clips": {}},
    7
  ]})";
  const auto jobs = (dir / "jobs.yaml").string();
  std::ofstream(jobs) << "jobs:\n  - scenes_file: bad.json\n    id: one\n";
  const auto r = load_job_file(jobs, {});
  fs::remove_all(dir);
  ASSERT_FALSE(r);
  const auto at = jobs + ":2:18: " + scenes + ": ";
  for (const std::string line : {
           "/scenes/0/sceneIdx: is a string (\"x\"); it must be an integer",
           "/scenes/0/background: missing; the create call needs an object",
           "/scenes/0/clips/0/type: \"dragon\" is not one of aiModel, shape, image, textImage, videoImage, audio",
           "/scenes/0/clips/1/id: missing; the create call needs a string",
           "/scenes/0/clips/1/top: is a string (\"0\"); it must be a number",
           "/scenes/0/clips/1/height: missing; the create call needs a number",
           "/scenes/0/clips/1/layer: is a number with a fraction (1.5E0); it must be an integer",
           "/scenes/0/clips/1/scaleX: is a string (\"2\"); it must be a number",
           "/scenes/1/background: is an array ([]); it must be an object",
           "/scenes/1/clips: is an object ({}); it must be an array",
           "/scenes/2: a scene must be an object, not an integer",
       })
    EXPECT_NE(r.error().message.find(at + line), std::string::npos) << line << "\n" << r.error().message;
}

TEST(ScenesSchema, TheDemosScenesFilePassesAndUnknownFieldsPass) {
  const auto demo = std::string(EXPORTD_SOURCE_DIR) + "/config/jobs/scenes/welcome.json";
  auto r = load_scenes(demo, "");
  EXPECT_TRUE(r) << r.error().message;
}

}  // namespace
}  // namespace exportd
