// Unit tests for the RATE_LIMIT token buckets (src/rate_limit.{h,cc}).
#include "rate_limit.h"

#include <gtest/gtest.h>

TEST(RateLimit, BucketStartsFullAndRefillsAtItsRate) {
  TokenBucket b(100000, 20000);  // 100 kB/s, 20 kB burst
  EXPECT_EQ(20000u, b.available(0));
  b.take(20000);
  EXPECT_EQ(0u, b.available(0));
  EXPECT_EQ(1000u, b.available(10)) << "10 ms at 100 kB/s";
  EXPECT_EQ(20000u, b.available(10000)) << "never more than the burst";
}

TEST(RateLimit, DebtIsPaidByWaiting) {
  TokenBucket b(100000, 20000);
  b.take(30000);  // two streams took what each saw: 10 kB of debt
  EXPECT_EQ(0u, b.available(0));
  EXPECT_EQ(0u, b.available(100));  // 10 kB refilled: debt paid, nothing yet
  EXPECT_EQ(5000u, b.available(150));
}

TEST(RateLimit, WaitIsTheTimeToTheWantedBytesCappedAtTheBurst) {
  TokenBucket b(100000, 20000);
  b.take(20000);
  EXPECT_EQ(50, b.wait_ms(5000, 0));
  EXPECT_EQ(200, b.wait_ms(1u << 20, 0)) << "a big want waits for one burst only";
  EXPECT_EQ(1, b.wait_ms(0, 0)) << "at least 1 ms, never a busy loop";
  EXPECT_EQ(1, b.wait_ms(100, 1000)) << "already there";
}

TEST(RateLimit, LongRunAverageIsTheRate) {
  // A sender that takes whatever is available every 7 ms for 10 s moves
  // the burst plus rate * time, within one refill step.
  TokenBucket b(2u << 20, rate_burst(2u << 20));
  uint64_t moved = 0;
  for (int64_t t = 0; t <= 10000; t += 7) {
    uint64_t n = b.available(t);
    b.take(n);
    moved += n;
  }
  double expected = 10.0 * (2u << 20) + static_cast<double>(rate_burst(2u << 20));
  EXPECT_NEAR(expected, static_cast<double>(moved), 20000.0);
}

TEST(RateLimit, SeveralLimitersGiveTheLeastAndTakeFromEach) {
  RateLimits none;
  EXPECT_EQ(UINT64_MAX, none.available(true, 0));
  auto mapping = std::make_shared<RateLimiter>(1u << 20);
  auto client = std::make_shared<RateLimiter>(256u << 10);
  RateLimits both{{mapping, client}};
  EXPECT_EQ(rate_burst(256u << 10), both.available(true, 0));
  both.take(true, 16384);
  EXPECT_EQ(rate_burst(1u << 20) - 16384, mapping->up.available(0));
  EXPECT_EQ(rate_burst(256u << 10) - 16384, client->up.available(0));
  EXPECT_EQ(rate_burst(1u << 20), mapping->down.available(0)) << "directions are apart";
  EXPECT_EQ(rate_burst(256u << 10), both.available(false, 0));
}
