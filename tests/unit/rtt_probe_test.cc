// Unit tests for the BDP probe round trip (src/rtt_probe.{h,cc}).
#include "rtt_probe.h"

#include <gtest/gtest.h>

#include <string>

namespace {
bool pong(RttProbe& p, const std::string& payload, int64_t now) {
  return p.pong(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), now);
}
}  // namespace

TEST(RttProbe, OneProbeAtATime) {
  RttProbe p;
  EXPECT_TRUE(p.due(0));
  std::string ping = p.start(0);
  ASSERT_EQ(8u, ping.size());
  EXPECT_EQ(RttProbe::kMark, static_cast<uint8_t>(ping[0]));
  EXPECT_FALSE(p.due(500'000));
  EXPECT_TRUE(pong(p, ping, 200'000));
  EXPECT_EQ(200'000, p.srtt_us());
  // Answered, but the next waits for the minimum gap.
  EXPECT_FALSE(p.due(200'000 + RttProbe::kMinGapUs - 1 - 200'000));
  EXPECT_TRUE(p.due(RttProbe::kMinGapUs));
}

TEST(RttProbe, SmoothsLikeTcp) {
  RttProbe p;
  pong(p, p.start(0), 100'000);
  pong(p, p.start(1'000'000), 1'180'000);
  EXPECT_EQ(110'000, p.srtt_us());  // 100 + (180 - 100) / 8
}

TEST(RttProbe, HeartbeatPongsAreNotOurs) {
  RttProbe p;
  p.start(0);
  std::string heartbeat("\0\0\0\0\0\0\0\1", 8);
  EXPECT_FALSE(pong(p, heartbeat, 50'000));
  EXPECT_FALSE(pong(p, "short", 50'000));
  EXPECT_EQ(-1, p.srtt_us());
}

TEST(RttProbe, ALostProbeIsReplacedAndItsLateAnswerIgnored) {
  RttProbe p;
  std::string first = p.start(0);
  EXPECT_FALSE(p.due(RttProbe::kLostAfterUs - 1));
  EXPECT_TRUE(p.due(RttProbe::kLostAfterUs));
  std::string second = p.start(RttProbe::kLostAfterUs);
  EXPECT_NE(first, second);
  EXPECT_TRUE(pong(p, first, RttProbe::kLostAfterUs + 10));  // ours, but stale
  EXPECT_EQ(-1, p.srtt_us());
  EXPECT_TRUE(pong(p, second, RttProbe::kLostAfterUs + 300'000));
  EXPECT_EQ(300'000, p.srtt_us());
  // A duplicate answer changes nothing.
  EXPECT_TRUE(pong(p, second, RttProbe::kLostAfterUs + 900'000));
  EXPECT_EQ(300'000, p.srtt_us());
}

TEST(RttProbe, KeepsTheLeastRoundTripAsThePath) {
  RttProbe p;
  EXPECT_EQ(-1, p.min_rtt_us());
  pong(p, p.start(0), 300);  // idle: the path alone
  pong(p, p.start(20'000), 22'000);  // behind a bulk stream's queue
  pong(p, p.start(40'000), 41'000);
  EXPECT_EQ(300, p.min_rtt_us());
  EXPECT_GT(p.srtt_us(), 300);
  // A path that became longer: the old least is forgotten after the window.
  pong(p, p.start(1'000'000), 1'050'000);
  EXPECT_EQ(300, p.min_rtt_us());
  int64_t later = RttProbe::kMinRttWindowUs + 100'000;
  pong(p, p.start(later), later + 60'000);
  EXPECT_EQ(60'000, p.min_rtt_us());
  pong(p, p.start(later + 100'000), later + 150'000);  // lower again: taken at once
  EXPECT_EQ(50'000, p.min_rtt_us());
}
