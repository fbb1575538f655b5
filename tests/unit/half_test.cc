// Unit tests for the half-close state machine (src/half.{h,cc}).
#include "half.h"

#include <gtest/gtest.h>

namespace {

using S = Half::State;

TEST(Half, StartsOpenAndMovesForward) {
  Half h("input");
  EXPECT_TRUE(h.open());
  EXPECT_TRUE(h.set(S::draining, 1));
  EXPECT_EQ(S::draining, h.state());
  EXPECT_TRUE(h.set(S::closed, 1));
  EXPECT_TRUE(h.closed());
}

TEST(Half, MaySkipDraining) {
  Half h("output");
  EXPECT_TRUE(h.set(S::closed, 1));  // nothing held: EOF goes out at once
  EXPECT_TRUE(h.closed());
}

TEST(Half, NeverBackwardsOrInPlace) {
  Half h("input");
  EXPECT_FALSE(h.set(S::open, 1));
  ASSERT_TRUE(h.set(S::draining, 1));
  EXPECT_FALSE(h.set(S::draining, 1)) << "a second EOF is not a step";
  EXPECT_FALSE(h.set(S::open, 1));
  ASSERT_TRUE(h.set(S::closed, 1));
  EXPECT_FALSE(h.set(S::draining, 1));
  EXPECT_TRUE(h.closed());
}

TEST(Half, Names) {
  EXPECT_STREQ("open", Half::name(S::open));
  EXPECT_STREQ("draining", Half::name(S::draining));
  EXPECT_STREQ("closed", Half::name(S::closed));
}

}  // namespace
