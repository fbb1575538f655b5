// Heartbeat decisions (src/heartbeat.h) with made-up times.
#include "heartbeat.h"

#include <gtest/gtest.h>

namespace {
constexpr int64_t kInterval = 10000;  // 10 s
constexpr int64_t kTick = kInterval / 4;
constexpr int64_t kT0 = 1000000;
}  // namespace

TEST(Heartbeat, PingsOncePerInterval) {
  Heartbeat hb;
  hb.start(kT0, kInterval);
  std::string why;
  int pings = 0;
  for (int64_t now = kT0 + kTick; now <= kT0 + 5 * kInterval; now += kTick) {
    hb.heard(now);  // the peer keeps talking
    Heartbeat::Verdict v = hb.tick(now, now, 0, why);
    ASSERT_NE(Heartbeat::Verdict::dead, v);
    ASSERT_NE(Heartbeat::Verdict::stuck, v);
    if (v == Heartbeat::Verdict::ping) {
      ++pings;
      EXPECT_EQ(0, (now - kT0) % kInterval) << "PING at " << now - kT0;
    }
  }
  EXPECT_EQ(5, pings);
}

TEST(Heartbeat, PingPayloadCounts) {
  Heartbeat hb;
  EXPECT_EQ(std::string("\0\0\0\0\0\0\0\1", 8), hb.next_ping(kT0));
  EXPECT_EQ(std::string("\0\0\0\0\0\0\0\2", 8), hb.next_ping(kT0));
}

TEST(Heartbeat, RoundTripFromTheAnswerToTheLastPing) {
  Heartbeat hb;
  EXPECT_EQ(-1, hb.rtt_ms());
  std::string first = hb.next_ping(kT0);
  std::string second = hb.next_ping(kT0 + 1000);
  // The answer to an older PING, junk and a short payload change nothing.
  hb.pong(reinterpret_cast<const uint8_t*>(first.data()), 8, kT0 + 1010);
  hb.pong(reinterpret_cast<const uint8_t*>("zzzzzzzz"), 8, kT0 + 1010);
  hb.pong(reinterpret_cast<const uint8_t*>(second.data()), 7, kT0 + 1010);
  EXPECT_EQ(-1, hb.rtt_ms());
  hb.pong(reinterpret_cast<const uint8_t*>(second.data()), 8, kT0 + 1042);
  EXPECT_EQ(42, hb.rtt_ms());
}

TEST(Heartbeat, DeadAfterThreeSilentIntervals) {
  Heartbeat hb;
  hb.start(kT0, kInterval);
  std::string why;
  EXPECT_NE(Heartbeat::Verdict::dead, hb.tick(kT0 + 3 * kInterval, kT0, 0, why));
  EXPECT_EQ(Heartbeat::Verdict::dead, hb.tick(kT0 + 3 * kInterval + kTick, kT0, 0, why));
  EXPECT_EQ("nothing heard for 32.5 s (3 heartbeats missed): peer presumed dead", why);
}

TEST(Heartbeat, HearingKeepsItAlive) {
  Heartbeat hb;
  hb.start(kT0, kInterval);
  std::string why;
  hb.heard(kT0 + 2 * kInterval);
  EXPECT_NE(Heartbeat::Verdict::dead, hb.tick(kT0 + 4 * kInterval, kT0, 0, why));
}

TEST(Heartbeat, StuckWhenOutputWaitsAndNothingIsWritten) {
  Heartbeat hb;
  hb.start(kT0, kInterval);
  std::string why;
  int64_t now = kT0 + 3 * kInterval + kTick;
  hb.heard(now);  // PINGs count as life, but it reads nothing
  EXPECT_EQ(Heartbeat::Verdict::stuck, hb.tick(now, 0, 5000, why));
  EXPECT_EQ("the peer has read nothing for 32.5 s (3 heartbeats) while 5000 bytes wait: presumed stuck",
            why);
}

TEST(Heartbeat, WritesOrAnEmptyQueueAreProgress) {
  std::string why;
  int64_t now = kT0 + 3 * kInterval + kTick;
  Heartbeat written;
  written.start(kT0, kInterval);
  written.heard(now);
  EXPECT_NE(Heartbeat::Verdict::stuck, written.tick(now, kT0 + kInterval, 5000, why));
  Heartbeat empty;
  empty.start(kT0, kInterval);
  empty.heard(now - kTick);
  EXPECT_NE(Heartbeat::Verdict::stuck, empty.tick(now - kTick, 0, 0, why));
  empty.heard(now);
  EXPECT_NE(Heartbeat::Verdict::stuck, empty.tick(now, 0, 5000, why));
}
