// Unit tests for the warning rate limit (src/log_throttle.{h,cc}).
#include "log_throttle.h"

#include <gtest/gtest.h>

TEST(LogThrottle, FirstEventLogged) {
  LogThrottle t(5000);
  EXPECT_TRUE(t.admit(0));
  EXPECT_EQ(0u, t.take_suppressed(0));
}

TEST(LogThrottle, BurstCountedNotLogged) {
  LogThrottle t(5000);
  EXPECT_TRUE(t.admit(1000));
  for (int i = 0; i < 150; ++i) EXPECT_FALSE(t.admit(1000 + i));
  EXPECT_EQ(150u, t.suppressed());
  EXPECT_EQ(150u, t.take_suppressed(6000));
  EXPECT_EQ(0u, t.take_suppressed(6001));
}

TEST(LogThrottle, CountedWhileReportsAreDue) {
  // A burst that goes on: one line, then one count per interval.
  LogThrottle t(5000);
  EXPECT_TRUE(t.admit(0));
  EXPECT_FALSE(t.admit(100));
  EXPECT_EQ(1u, t.take_suppressed(5000));
  EXPECT_FALSE(t.admit(5001));  // within the interval that report started
  EXPECT_EQ(1u, t.take_suppressed(10000));
}

TEST(LogThrottle, QuietIntervalStartsANewBurst) {
  LogThrottle t(5000);
  EXPECT_TRUE(t.admit(0));
  EXPECT_FALSE(t.admit(4999));
  // A pending count must be reported first: no full line before it.
  EXPECT_FALSE(t.admit(9000));
  EXPECT_EQ(2u, t.take_suppressed(9000));
  EXPECT_TRUE(t.admit(14000));
}

TEST(LogThrottle, EventAfterIntervalLogged) {
  LogThrottle t(5000);
  EXPECT_TRUE(t.admit(0));
  EXPECT_TRUE(t.admit(5000));
  EXPECT_FALSE(t.admit(5001));
}
