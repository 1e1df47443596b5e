// What a video reply means for the download under way (SPEC §10), pure.

#include <gtest/gtest.h>

#include "jobs/resume.hpp"

namespace exportd {
namespace {

ReplyHead head(int status, std::optional<std::uint64_t> length = std::nullopt, std::string range = "",
               std::string etag = "", std::string modified = "", std::string location = "") {
  return {status, length, std::move(range), std::move(etag), std::move(modified), std::move(location)};
}

TEST(Resume, AFreshDownloadAsksForEverythingAndRecordsTheStrongValidator) {
  const PartialFile fresh;
  EXPECT_EQ(resume_headers(fresh).range, "");
  auto j = judge_reply(fresh, head(200, 5000, "", "\"v1\""));
  EXPECT_EQ(j.verdict, Verdict::write);
  EXPECT_EQ(j.offset, 0u);
  EXPECT_EQ(j.total, 5000u);
  EXPECT_EQ(j.validator, "\"v1\"");
  // A weak ETag may not be used for a range: Last-Modified is, if there is one.
  j = judge_reply(fresh, head(200, 5000, "", "W/\"v1\"", "Tue, 24 Nov 2026 10:00:00 GMT"));
  EXPECT_EQ(j.validator, "Tue, 24 Nov 2026 10:00:00 GMT");
  EXPECT_EQ(judge_reply(fresh, head(200, 5000, "", "W/\"v1\"")).validator, "");
}

TEST(Resume, BytesOnDiskAreResumedOnlyWithTheirValidator) {
  const PartialFile part{1000, "\"v1\"", 5000};
  EXPECT_EQ(resume_headers(part).range, "bytes=1000-");
  EXPECT_EQ(resume_headers(part).if_range, "\"v1\"");
  // Without a validator nothing proves the rest belongs to the same video.
  EXPECT_EQ(resume_headers(PartialFile{1000, "", 5000}).range, "");

  auto j = judge_reply(part, head(206, 4000, "bytes 1000-4999/5000", "\"v1\""));
  EXPECT_EQ(j.verdict, Verdict::write);
  EXPECT_EQ(j.offset, 1000u);
  EXPECT_EQ(j.validator, "\"v1\"");
  // The video changed (If-Range did not match) or the range was ignored: all of it again.
  j = judge_reply(part, head(200, 6000, "", "\"v2\""));
  EXPECT_EQ(j.verdict, Verdict::write);
  EXPECT_EQ(j.offset, 0u);
  EXPECT_EQ(j.validator, "\"v2\"");
}

TEST(Resume, APartThatDoesNotFitIsThrownAway) {
  const PartialFile part{1000, "\"v1\"", 5000};
  for (const auto& h : {head(206, 4000, "bytes 900-4999/5000", "\"v1\""),   // from elsewhere
                        head(206, 3000, "bytes 1000-3999/5000", "\"v1\""),  // stops short
                        head(206, 5000, "bytes 1000-5999/6000", "\"v1\""),  // longer video
                        head(206, 4000, "bytes 1000-4999/5000", "\"v2\""),  // another version
                        head(206, 10, "bytes 1000-4999/5000", "\"v1\""),    // length disagrees
                        head(206, 4000, "bytes */5000", "\"v1\""), head(206, 4000, "", "\"v1\"")})
    EXPECT_EQ(judge_reply(part, h).verdict, Verdict::restart) << h.content_range;
  EXPECT_EQ(judge_reply(PartialFile{}, head(206, 10, "bytes 0-9/10")).verdict, Verdict::restart);
  // 416 at the very end: it was all there.
  EXPECT_EQ(judge_reply(PartialFile{5000, "\"v1\"", 5000}, head(416, 0, "bytes */5000")).verdict, Verdict::complete);
  EXPECT_EQ(judge_reply(part, head(416, 0, "bytes */5000")).verdict, Verdict::restart);
}

TEST(Resume, RefusalsBusyHostsRedirectsAndRealFailuresAreToldApart) {
  const PartialFile part;
  for (int s : {401, 403, 404, 410}) EXPECT_EQ(judge_reply(part, head(s)).verdict, Verdict::refresh_link) << s;
  for (int s : {408, 425, 429, 500, 502, 503, 504}) EXPECT_EQ(judge_reply(part, head(s)).verdict, Verdict::retry_later) << s;
  for (int s : {400, 405, 451}) EXPECT_EQ(judge_reply(part, head(s)).verdict, Verdict::fail) << s;
  EXPECT_EQ(judge_reply(part, head(302, 0, "", "", "", "https://cdn.example/v.mp4")).verdict, Verdict::redirect);
  EXPECT_EQ(judge_reply(part, head(302)).verdict, Verdict::retry_later);
}

TEST(Resume, ContentRangeIsReadStrictly) {
  const auto r = parse_content_range("bytes 10-19/100");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 10u);
  EXPECT_EQ(r->last, 19u);
  EXPECT_EQ(r->total, 100u);
  for (const auto* bad : {"bytes 19-10/100", "bytes 10-100/100", "bytes 10-19/*", "bytes=10-19/100", "bytes 10-19/100 ",
                          "bytes -1-19/100", "bytes 18446744073709551616-1/2", ""})
    EXPECT_FALSE(parse_content_range(bad)) << bad;
}

}  // namespace
}  // namespace exportd
