#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "ops/log.hpp"

namespace exportd {
namespace {

std::string written(std::FILE* f, const std::string& path) {
  std::fflush(f);
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct TempLog {
  std::string path = "/tmp/exportd-log-test-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "w+");
  ~TempLog() {
    std::fclose(f);
    std::remove(path.c_str());
    ::unsetenv("JOURNAL_STREAM");
  }
  void make_it_the_journal() {
    struct stat st {};
    ::fstat(::fileno(f), &st);
    ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(), 1);
  }
};

TEST(Log, TextLinesCarryTimeLevelEventAndQuotedFields) {
  TempLog t;
  Logger log({LogLevel::info, LogFormat::text}, t.f);
  log.debug("hidden");
  log.info("submitted", {{"job", "a.yaml#x"}, {"message", "two words"}});
  const auto out = written(t.f, t.path);
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("Z info submitted job=a.yaml#x message=\"two words\"\n"), std::string::npos) << out;
  EXPECT_EQ(out.substr(0, 2), "20");  // starts with its timestamp
}

TEST(Log, JournalStreamGetsPriorityPrefixesAndNoTimestamp) {
  TempLog t;
  t.make_it_the_journal();
  Logger log({LogLevel::debug, LogFormat::text}, t.f);
  log.error("stopped");
  log.warning("retrying");
  log.info("submitted");
  log.debug("token_refused");
  EXPECT_EQ(written(t.f, t.path), "<3>error stopped\n<4>warning retrying\n<6>info submitted\n<7>debug token_refused\n");
}

TEST(Log, AnotherStreamIsNotMistakenForTheJournal) {
  TempLog t;
  ::setenv("JOURNAL_STREAM", "1:2", 1);
  Logger log({LogLevel::info, LogFormat::text}, t.f);
  log.info("x");
  EXPECT_NE(written(t.f, t.path).substr(0, 3), "<6>");
}

TEST(Log, JsonIsOneObjectPerLine) {
  TempLog t;
  Logger log({LogLevel::info, LogFormat::json}, t.f);
  log.info("succeeded", {{"job", "a#b"}, {"download_url", "https://x/\"y\""}});
  log.warning("failed", {{"code", "E1"}});
  std::istringstream lines(written(t.f, t.path));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const auto o = boost::json::parse(line).as_object();
    EXPECT_TRUE(o.contains("time"));
    EXPECT_TRUE(o.contains("level"));
    ++n;
  }
  EXPECT_EQ(n, 2);
}

}  // namespace
}  // namespace exportd
