// Unit tests for the global buffered-bytes cap (src/buffer_budget.{h,cc}).
#include "buffer_budget.h"

#include <gtest/gtest.h>

#include <functional>

namespace {

struct FakeStream final : BufferBudget::Waiter {
  int woken = 0;
  std::function<void()> on_wake;
  void budget_available() override {
    ++woken;
    if (on_wake) on_wake();
  }
};

TEST(BufferBudget, CountsAndCaps) {
  BufferBudget b(100);
  EXPECT_FALSE(b.over());
  b.add(60);
  b.add(40);
  EXPECT_TRUE(b.over());
  EXPECT_EQ(100u, b.used());
  b.remove(1);
  EXPECT_FALSE(b.over());
  b.remove(1000);  // never below zero
  EXPECT_EQ(0u, b.used());
}

TEST(BufferBudget, PastTheCapOnlyStreamsThatHoldBytesWithhold) {
  BufferBudget b(100);
  EXPECT_FALSE(b.withhold(50)) << "under the cap, credit flows";
  b.add(100);
  EXPECT_TRUE(b.withhold(1)) << "past the cap, a stream whose peer is behind waits";
  EXPECT_FALSE(b.withhold(0)) << "a stream whose peer took everything is not stalled by others";
  b.remove(1);
  EXPECT_FALSE(b.withhold(1));
}

TEST(BufferBudget, WaitersWokenOnceWhenRoomReturns) {
  BufferBudget b(100);
  FakeStream a, c;
  b.add(150);
  b.wait(&a);
  b.wait(&a);  // twice is once
  b.wait(&c);
  EXPECT_EQ(2u, b.waiting());
  b.remove(10);  // 140: still over
  EXPECT_EQ(0, a.woken);
  b.remove(60);  // 80
  EXPECT_EQ(1, a.woken);
  EXPECT_EQ(1, c.woken);
  EXPECT_EQ(0u, b.waiting());
  b.remove(10);
  EXPECT_EQ(1, a.woken) << "a waiter is called once per wait()";
}

TEST(BufferBudget, CancelledWaiterIsNeverCalled) {
  BufferBudget b(10);
  FakeStream a, c;
  b.add(20);
  b.wait(&a);
  b.wait(&c);
  b.cancel(&a);
  b.remove(20);
  EXPECT_EQ(0, a.woken);
  EXPECT_EQ(1, c.woken);
}

TEST(BufferBudget, WaiterEndingAnotherDuringWakeIsSafe) {
  BufferBudget b(10);
  FakeStream a, c;
  a.on_wake = [&] { b.cancel(&c); };  // a's wake-up ends c
  b.add(20);
  b.wait(&a);
  b.wait(&c);
  b.remove(20);
  EXPECT_EQ(1, a.woken);
  EXPECT_EQ(0, c.woken);
}

TEST(BufferBudget, RefillDuringWakeLeavesTheRestWaiting) {
  BufferBudget b(10);
  FakeStream a, c;
  a.on_wake = [&] { b.add(50); };  // a's credit brings data at once
  b.add(20);
  b.wait(&a);
  b.wait(&c);
  b.remove(20);
  EXPECT_EQ(1, a.woken);
  EXPECT_EQ(0, c.woken);
  EXPECT_EQ(1u, b.waiting());
  b.remove(50);
  EXPECT_EQ(1, c.woken);
}

TEST(BufferBudget, RaisingTheCapWakes) {
  BufferBudget b(10);
  FakeStream a;
  b.add(20);
  b.wait(&a);
  b.set_cap(100);
  EXPECT_EQ(1, a.woken);
}

}  // namespace

// ---------------------------------------------------------------------------
// reserve(): the hard cap (the client's --max-pending-bytes)

TEST(BufferBudgetReserve, TakesUpToTheCap) {
  BufferBudget b(1000);
  EXPECT_TRUE(b.reserve(600));
  EXPECT_TRUE(b.reserve(400));
  EXPECT_EQ(1000u, b.used());
  EXPECT_FALSE(b.reserve(1));
  EXPECT_EQ(1000u, b.used());
}

TEST(BufferBudgetReserve, RefusalReservesNothing) {
  BufferBudget b(1000);
  EXPECT_TRUE(b.reserve(900));
  EXPECT_FALSE(b.reserve(200));
  EXPECT_EQ(900u, b.used());
  EXPECT_TRUE(b.reserve(100));
}

TEST(BufferBudgetReserve, GiveReturnsBytes) {
  BufferBudget b(65536);
  EXPECT_TRUE(b.reserve(65536));
  b.remove(65536);
  EXPECT_EQ(0u, b.used());
  EXPECT_TRUE(b.reserve(65536));
  b.remove(100000);  // never below zero
  EXPECT_EQ(0u, b.used());
}

TEST(BufferBudgetReserve, ZeroCapHoldsNothing) {
  BufferBudget b(0);
  EXPECT_FALSE(b.reserve(1));
  EXPECT_TRUE(b.reserve(0));
}

TEST(BufferBudgetReserve, RefusedOnceSoftAddsPassedTheCap) {
  BufferBudget b(100);
  b.add(150);  // soft use may pass the cap
  EXPECT_FALSE(b.reserve(1));
  b.remove(100);
  EXPECT_TRUE(b.reserve(50));
  EXPECT_EQ(100u, b.used());
}

TEST(BufferBudget, GrowthRoomIsHalfTheCap) {
  BufferBudget b(100);
  EXPECT_EQ(50u, b.growth_room());
  b.add_growth(30);
  EXPECT_EQ(20u, b.growth_room());
  b.add_growth(30);
  EXPECT_EQ(0u, b.growth_room());
  b.remove_growth(40);
  EXPECT_EQ(20u, b.growth());
  EXPECT_EQ(30u, b.growth_room());
  b.set_cap(20);  // a reload lowers the cap: no room until streams end
  EXPECT_EQ(0u, b.growth_room());
  b.remove_growth(100);
  EXPECT_EQ(0u, b.growth());
  EXPECT_EQ(10u, b.growth_room());
}
