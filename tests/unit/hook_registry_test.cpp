// The webhook receiver's registry of tokens (SPEC §9): which job a call
// names, what an ended job's token answers, and the hint its lag counts from.

#include <gtest/gtest.h>

#include "hooks/hook_registry.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;

TEST(HookRegistry, ACallNamesTheJobAwaitingItsTokenAndAnEndedJobsTokenAnswersEnded) {
  const HookKeys keys("a fixed secret for the test");
  HookRegistry r;
  EXPECT_FALSE(r.on());
  r.use(keys, "https://exportd.example.com");
  ASSERT_TRUE(r.on());
  const auto a = r.token("batch-1", "jobs.yaml#p1"), b = r.token("batch-1", "jobs.yaml#p2");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, r.token("batch-1", "jobs.yaml#p1")) << "the same after a restart: made from the key, not stored";
  EXPECT_EQ(r.url(a), "https://exportd.example.com/hooks/" + a);

  r.await(a, 7);
  const auto found = r.find(a);
  EXPECT_EQ(found.answer, HookAnswer::accepted);
  EXPECT_EQ(found.job, 7u);
  EXPECT_EQ(r.find(b).answer, HookAnswer::unknown) << "not a job of ours";
  EXPECT_EQ(r.find("not-a-token").answer, HookAnswer::unknown);
  EXPECT_EQ(r.find(std::string(32, 'g')).answer, HookAnswer::unknown) << "not hex";

  r.ended(a);
  EXPECT_EQ(r.find(a).answer, HookAnswer::ended) << "a late or repeated hook: 200, ignored";
  EXPECT_EQ(r.awaiting(), 0u);
}

// Bounded memory over months: only the last `max_ended` ended tokens are kept.
TEST(HookRegistry, OnlyTheLastEndedTokensAreKept) {
  const HookKeys keys("a fixed secret for the test");
  HookRegistry r(2);
  r.use(keys, "http://127.0.0.1:1");
  const auto t1 = r.token("b", "1"), t2 = r.token("b", "2"), t3 = r.token("b", "3");
  for (const auto& t : {t1, t2, t3}) r.await(t, 0);
  r.ended(t1);
  r.ended(t2);
  r.ended(t2);  // twice: still one place in the ring
  EXPECT_EQ(r.find(t1).answer, HookAnswer::ended);
  r.ended(t3);
  EXPECT_EQ(r.find(t1).answer, HookAnswer::unknown) << "the oldest fell out";
  EXPECT_EQ(r.find(t2).answer, HookAnswer::ended);
  EXPECT_EQ(r.find(t3).answer, HookAnswer::ended);
}

// The lag of a hinted job counts from its first hint, until its read sees it done.
TEST(HookRegistry, TheFirstHintIsKeptUntilForgotten) {
  HookRegistry r;
  const TimePoint t0{};
  EXPECT_FALSE(r.hint(3));
  r.hinted(3, t0 + 5s);
  r.hinted(3, t0 + 9s);  // many hooks, the first counts
  EXPECT_EQ(r.hint(3), t0 + 5s);
  EXPECT_FALSE(r.hint(4));
  r.forget_hint(3);
  EXPECT_FALSE(r.hint(3));
}

}  // namespace
}  // namespace exportd
