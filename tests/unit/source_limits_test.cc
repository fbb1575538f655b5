// Unit tests for MAX_CONNECTIONS_PER_SOURCE and NEW_CONNECTIONS_PER_SOURCE
// (src/source_limits.{h,cc}).
#include "source_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace {
using Verdict = SourceLimiter::Verdict;
}

TEST(SourceLimits, NoRulesAdmitsEverythingUntracked) {
  SourceLimiter l;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(Verdict::admit, l.admit("10.0.0.1", {}, i).verdict);
  EXPECT_EQ(0u, l.tracked());
}

TEST(SourceLimits, LiveConnectionsPerSourceAreCappedAndFreedByTheirLeases) {
  SourceLimiter l;
  SourceRules r{2, 0, 0};
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 2; ++i) {
    auto d = l.admit("10.0.0.1", r, 0);
    ASSERT_EQ(Verdict::admit, d.verdict);
    held.push_back(d.lease);
  }
  EXPECT_EQ(Verdict::too_many_live, l.admit("10.0.0.1", r, 0).verdict);
  EXPECT_EQ(Verdict::admit, l.admit("10.0.0.2", r, 0).verdict) << "another source is unaffected";
  held.pop_back();  // one connection ends
  EXPECT_EQ(Verdict::admit, l.admit("10.0.0.1", r, 0).verdict);
}

TEST(SourceLimits, NewConnectionsAreCutAtNInAnyWindow) {
  // 200 attempts in 10 s against 30/60: exactly 30 pass.
  SourceLimiter l;
  SourceRules r{0, 30, 60};
  int admitted = 0;
  for (int i = 0; i < 200; ++i) {
    auto d = l.admit("127.0.0.9", r, i * 50);
    admitted += d.verdict == Verdict::admit;
  }
  EXPECT_EQ(30, admitted);
  EXPECT_EQ(170u, l.refused());
  EXPECT_EQ(Verdict::admit, l.admit("127.0.0.10", r, 10000).verdict);
  // The window slides: 60 s after the first admission, one more may come.
  EXPECT_EQ(Verdict::too_many_new, l.admit("127.0.0.9", r, 59999).verdict);
  EXPECT_EQ(Verdict::admit, l.admit("127.0.0.9", r, 60000).verdict);
  EXPECT_EQ(Verdict::too_many_new, l.admit("127.0.0.9", r, 60001).verdict);
}

TEST(SourceLimits, OneLogLinePerSourcePerMinuteWithTheQuietCount) {
  SourceLimiter l;
  SourceRules r{0, 1, 3600};
  ASSERT_EQ(Verdict::admit, l.admit("a", r, 0).verdict);
  auto first = l.admit("a", r, 1);
  EXPECT_TRUE(first.log);
  EXPECT_EQ(0u, first.quiet);
  int logged = 0;
  for (int i = 2; i < 1000; ++i) logged += l.admit("a", r, i).log;
  EXPECT_EQ(0, logged) << "within the minute nothing more is logged";
  EXPECT_TRUE(l.admit("b", r, 1000).verdict == Verdict::admit);
  EXPECT_TRUE(l.admit("b", r, 1001).log) << "another source has its own minute";
  auto next = l.admit("a", r, 60001);
  EXPECT_TRUE(next.log);
  EXPECT_EQ(998u, next.quiet) << "the next line counts the quiet refusals";
}

TEST(SourceLimits, IdleSourcesAreForgottenAndTheTableIsBounded) {
  SourceLimiter l;
  SourceRules r{0, 5, 1};
  for (int i = 0; i < 1000; ++i) l.admit("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), r, 0);
  EXPECT_EQ(1000u, l.tracked());
  l.admit("10.2.0.1", r, 61000);  // a minute later: a prune runs
  EXPECT_EQ(1u, l.tracked()) << "sources with nothing live and an old window go";
  // Live ones stay.
  SourceLimiter live;
  auto d = live.admit("x", SourceRules{3, 0, 0}, 0);
  live.admit("y", SourceRules{3, 0, 0}, 120000);
  EXPECT_EQ(2u, live.tracked());
  d.lease.reset();
  live.admit("z", SourceRules{3, 0, 0}, 240000);
  EXPECT_EQ(1u, live.tracked());
}

TEST(SourceLimits, LeaseOutlivesTheLimiter) {
  std::shared_ptr<void> lease;
  {
    SourceLimiter l;
    lease = l.admit("a", SourceRules{1, 0, 0}, 0).lease;
  }
  lease.reset();  // must not touch freed memory (the sanitized run checks)
}
