// Unit tests for the channel's DATA scheduler (src/frame_scheduler.{h,cc}):
// deficit round robin among the streams that can send.
#include "frame_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

namespace {

constexpr size_t kQuantum = 64 * 1024;
constexpr size_t kFrame = 64 * 1024;  // the largest DATA payload

// A channel in miniature: streams with backlogs, served one frame at a
// time as the scheduler says. Control frames never enter the scheduler;
// `control` counts frames queued ahead of DATA, which the channel sends
// before it asks the scheduler for anything.
struct Channel {
  FrameScheduler sched{kQuantum};
  std::map<uint32_t, size_t> backlog;
  std::map<uint32_t, size_t> sent;
  std::vector<uint32_t> order;  // stream of each DATA frame
  size_t control = 0;
  std::vector<char> wire;  // 'c' control, 'd' DATA

  void pending(uint32_t id, size_t n) {
    backlog[id] += n;
    sched.add(id);
  }
  // Sends one frame; false when there is nothing to send.
  bool send_one() {
    if (control) {
      --control;
      wire.push_back('c');
      return true;
    }
    uint32_t id;
    size_t allowance;
    if (!sched.next(id, allowance)) return false;
    size_t n = std::min({backlog[id], allowance, kFrame});
    backlog[id] -= n;
    sent[id] += n;
    order.push_back(id);
    wire.push_back('d');
    sched.sent(id, n, backlog[id] > 0);
    return true;
  }
};

}  // namespace

TEST(FrameScheduler, EmptyHasNothing) {
  FrameScheduler s(kQuantum);
  uint32_t id;
  size_t allowance;
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.next(id, allowance));
}

TEST(FrameScheduler, FirstTurnGrantsOneQuantum) {
  FrameScheduler s(1000);
  s.add(7);
  uint32_t id = 0;
  size_t allowance = 0;
  ASSERT_TRUE(s.next(id, allowance));
  EXPECT_EQ(7u, id);
  EXPECT_EQ(1000u, allowance);
  // Asking again without sending is the same turn: no second quantum.
  ASSERT_TRUE(s.next(id, allowance));
  EXPECT_EQ(1000u, allowance);
}

TEST(FrameScheduler, AddIsIdempotent) {
  FrameScheduler s(kQuantum);
  s.add(1);
  s.add(1);
  EXPECT_EQ(1u, s.size());
  s.remove(1);
  s.remove(1);
  EXPECT_TRUE(s.empty());
}

TEST(FrameScheduler, UnequalBacklogsShareEvenly) {
  Channel c;
  c.pending(1, 100 * kFrame);  // bulk
  c.pending(2, 10 * kFrame);
  c.pending(3, 3 * kFrame + 100);
  // While all three have bytes, every round sends one frame of each.
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(c.send_one());
  EXPECT_EQ(3 * kFrame, c.sent[1]);
  EXPECT_EQ(3 * kFrame, c.sent[2]);
  EXPECT_EQ(3 * kFrame, c.sent[3]);
  for (size_t i = 0; i < c.order.size(); ++i) EXPECT_EQ(1u + i % 3, c.order[i]) << i;
  // Stream 3's last 100 bytes go at its next turn, then it leaves.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.send_one());
  EXPECT_EQ(3 * kFrame + 100, c.sent[3]);
  EXPECT_FALSE(c.sched.contains(3));
  // The other two alternate until 2 is empty; 1 then has the channel.
  while (c.send_one()) {
  }
  EXPECT_EQ(100 * kFrame, c.sent[1]);
  EXPECT_EQ(10 * kFrame, c.sent[2]);
  EXPECT_TRUE(c.sched.empty());
}

TEST(FrameScheduler, ByteFairWithSmallerFrames) {
  // A stream that can send only small frames (credit, a small socket read)
  // keeps its turn until its quantum is used, so bytes, not frames, are fair.
  FrameScheduler s(4096);
  s.add(1);
  s.add(2);
  std::map<uint32_t, size_t> sent;
  for (int i = 0; i < 1000; ++i) {
    uint32_t id;
    size_t allowance;
    ASSERT_TRUE(s.next(id, allowance));
    size_t n = std::min<size_t>(allowance, id == 1 ? 4096 : 1000);
    sent[id] += n;
    s.sent(id, n, true);
  }
  double ratio = static_cast<double>(sent[1]) / static_cast<double>(sent[2]);
  EXPECT_GT(ratio, 0.9);
  EXPECT_LT(ratio, 1.1);
}

TEST(FrameScheduler, SmallStreamGoesAtItsNextTurn) {
  Channel c;
  for (uint32_t id = 1; id <= 4; ++id) c.pending(id, 1000 * kFrame);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.send_one());
  // An interactive stream joins with 64 bytes: at most one frame of each
  // bulk stream goes before it.
  c.pending(9, 64);
  size_t before = c.order.size();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.send_one());
  auto it = std::find(c.order.begin() + static_cast<long>(before), c.order.end(), 9u);
  ASSERT_NE(c.order.end(), it);
  EXPECT_LE(it - (c.order.begin() + static_cast<long>(before)), 4);
  EXPECT_EQ(64u, c.sent[9]);
  EXPECT_FALSE(c.sched.contains(9));
}

TEST(FrameScheduler, ControlFramesGoFirst) {
  Channel c;
  c.pending(1, 10 * kFrame);
  c.pending(2, 10 * kFrame);
  ASSERT_TRUE(c.send_one());
  c.control = 3;  // e.g. WINDOW, PONG, OPEN_OK queued while DATA waits
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(c.send_one());
  EXPECT_EQ((std::vector<char>{'d', 'c', 'c', 'c', 'd'}), c.wire);
}

TEST(FrameScheduler, NoStarvation) {
  // Streams joining all the time never keep an old one from its turn.
  Channel c;
  c.pending(1, 1000 * kFrame);
  uint32_t next_id = 2;
  size_t last_turn = 0, longest_wait = 0;
  for (int i = 0; i < 2000; ++i) {
    if (i % 3 == 0) c.pending(next_id++, 2 * kFrame);
    size_t before = c.sent[1];
    ASSERT_TRUE(c.send_one());
    if (c.sent[1] != before) {
      longest_wait = std::max(longest_wait, c.order.size() - last_turn);
      last_turn = c.order.size();
    }
  }
  EXPECT_GT(c.sent[1], 0u);
  // With about 1 + (new streams still in the round) ahead of it each time,
  // the wait stays bounded, not growing with the run.
  EXPECT_LT(longest_wait, 20u);
}

TEST(FrameScheduler, RemovedWhileQueued) {
  Channel c;
  c.pending(1, 10 * kFrame);
  c.pending(2, 10 * kFrame);
  c.pending(3, 10 * kFrame);
  ASSERT_TRUE(c.send_one());  // 1
  c.sched.remove(2);          // e.g. RESET while it waited
  c.backlog[2] = 0;
  ASSERT_TRUE(c.send_one());
  ASSERT_TRUE(c.send_one());
  EXPECT_EQ((std::vector<uint32_t>{1, 3, 1}), c.order);
  // The front removed between next() and sent(): sent() is a no-op.
  uint32_t id;
  size_t allowance;
  ASSERT_TRUE(c.sched.next(id, allowance));
  EXPECT_EQ(3u, id);
  c.sched.remove(3);
  c.sched.sent(3, allowance, true);
  EXPECT_FALSE(c.sched.contains(3));
  ASSERT_TRUE(c.sched.next(id, allowance));
  EXPECT_EQ(1u, id);
}

TEST(FrameScheduler, ReentryStartsAtTheBackWithoutOldDeficit) {
  FrameScheduler s(1000);
  s.add(1);
  s.add(2);
  uint32_t id;
  size_t allowance;
  ASSERT_TRUE(s.next(id, allowance));
  ASSERT_EQ(1u, id);
  s.sent(1, 10, false);  // 1 ran dry with 990 left: forgotten
  EXPECT_FALSE(s.contains(1));
  s.add(1);  // more bytes later
  ASSERT_TRUE(s.next(id, allowance));
  EXPECT_EQ(2u, id);
  s.sent(2, 1000, true);
  ASSERT_TRUE(s.next(id, allowance));
  EXPECT_EQ(1u, id);
  EXPECT_EQ(1000u, allowance);
}

TEST(FrameScheduler, StalledTurnEndsAndLeftoverIsCapped) {
  // A stream that sent nothing at its turn (more = true) goes to the back
  // instead of being asked forever, and its deficit does not grow.
  FrameScheduler s(1000);
  s.add(1);
  s.add(2);
  uint32_t id;
  size_t allowance;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s.next(id, allowance));
    EXPECT_LE(allowance, 2000u);
    s.sent(id, id == 1 ? 0 : 1000, true);
  }
}
