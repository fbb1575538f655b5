// Unit tests for receive-window auto-tuning (src/window_tuner.{h,cc};
// docs/PROTOCOL.md "Window auto-tuning"), with a fluid model of one
// stream: each round trip carries the least of the window, the path's
// bandwidth-delay product and what the local peer takes.
#include "window_tuner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

constexpr uint32_t kMiB = 1u << 20;

struct Path {
  int64_t rtt_us;
  double path_bps; // bytes/s the path carries
  double app_bps;  // bytes/s the local peer reads
};

// Runs `rtts` round trips of one stream through tuner and pool; the
// window after each is appended to trace (if given). Deliveries come in
// ten pieces per round trip.
uint32_t run(const Path &p, int rtts, WindowTuner &tuner, WindowPool &pool,
             uint32_t window, uint64_t outside_max = UINT64_MAX,
             std::vector<uint32_t> *trace = nullptr, int64_t *clock = nullptr) {
  int64_t now = clock ? *clock : 1'000'000;
  double secs = p.rtt_us / 1e6;
  for (int i = 0; i < rtts; ++i) {
    double per_rtt = std::min(
        {static_cast<double>(window), p.path_bps * secs, p.app_bps * secs});
    for (int k = 0; k < 10; ++k) {
      now += p.rtt_us / 10;
      uint64_t want = tuner.on_delivered(static_cast<size_t>(per_rtt / 10), now,
                                         p.rtt_us, p.rtt_us, window);
      uint32_t before = window;
      window = pool.grow(window, want, outside_max);
      if (window > before)
        tuner.grew();
    }
    if (trace)
      trace->push_back(window);
  }
  if (clock)
    *clock = now;
  return window;
}

} // namespace

TEST(WindowTuner, NothingWithoutARoundTrip) {
  WindowTuner t;
  EXPECT_EQ(kMiB, t.on_delivered(kMiB, 1'000, 0, 0, kMiB));
  EXPECT_EQ(kMiB, t.on_delivered(kMiB, 900'000, -1, -1, kMiB));
}

TEST(WindowTuner, WantsTwiceWhatOneRoundTripDelivered) {
  WindowTuner t;
  EXPECT_EQ(kMiB,
            t.on_delivered(100, 0, 100'000, 100'000, kMiB)); // starts the epoch
  EXPECT_EQ(kMiB, t.on_delivered(kMiB, 50'000, 100'000, 100'000,
                                 kMiB)); // half a round trip
  EXPECT_EQ(3u * kMiB,
            t.on_delivered(kMiB / 2, 100'000, 100'000, 100'000, kMiB));
  // The next epoch: a quarter window in a round trip wants no more.
  EXPECT_EQ(kMiB, t.on_delivered(kMiB / 4, 200'000, 100'000, 100'000, kMiB));
}

TEST(WindowTuner, AnIdleGapCountsAgainstTheRate) {
  WindowTuner t;
  t.on_delivered(0, 0, 100'000, 100'000, kMiB);
  // A whole window, but over ten round trips.
  EXPECT_EQ(kMiB, t.on_delivered(kMiB, 1'000'000, 100'000, 100'000, kMiB));
}

TEST(WindowTuner, GrowsOnALongFatPath) {
  // 200 ms, 50 MB/s: a BDP of 10 MB that a 1 MiB window caps at 5 MB/s.
  Path p{200'000, 50e6, 1e12};
  WindowTuner t;
  WindowPool pool(kMiB, 32 * kMiB, 64ull * kMiB);
  std::vector<uint32_t> trace;
  uint32_t w = run(p, 12, t, pool, kMiB, UINT64_MAX, &trace);
  // Doubling every other round trip (the round trip after a growth still
  // shows the old rate, so it does not pass the full-pipe test): past the
  // BDP within eight.
  EXPECT_GE(trace[7], 10'000'000u);
  // Settles between the BDP and twice it: the doubling that took it past
  // the BDP raised the rate by less than kGain, so it was the last.
  EXPECT_GE(w, 10'000'000u);
  EXPECT_LE(w, 20'000'000u);
  EXPECT_EQ(w, trace[8]);
  EXPECT_EQ(w - kMiB, pool.extra());
}

TEST(WindowTuner, StopsAtTheStreamCap) {
  Path p{400'000, 100e6, 1e12}; // 40 MB BDP
  WindowTuner t;
  WindowPool pool(kMiB, 16 * kMiB, 64ull * kMiB);
  EXPECT_EQ(16 * kMiB, run(p, 20, t, pool, kMiB));
}

TEST(WindowTuner, NoGrowthWhenTheApplicationIsTheBottleneck) {
  // The path could carry 10 MB per round trip, but the local peer reads
  // 2 MB/s: 400 KB per round trip, less than half the window.
  Path p{200'000, 50e6, 2e6};
  WindowTuner t;
  WindowPool pool(kMiB, 32 * kMiB, 64ull * kMiB);
  EXPECT_EQ(kMiB, run(p, 50, t, pool, kMiB));
  EXPECT_EQ(0u, pool.extra());
  EXPECT_EQ(0u, pool.grown());
}

TEST(WindowTuner, SlowReaderGetsTwiceItsRateTimesTheRoundTrip) {
  // 4 MB/s over 200 ms: 800 KB per round trip, so the window stops at
  // about 1.6 MB, far below the path's 20 MB.
  Path p{200'000, 50e6, 4e6};
  WindowTuner t;
  WindowPool pool(kMiB, 32 * kMiB, 64ull * kMiB);
  uint32_t w = run(p, 50, t, pool, kMiB);
  EXPECT_GT(w, kMiB);
  EXPECT_LE(w, 1'700'000u);
}

TEST(WindowTuner, NoGrowthOnAShortPath) {
  // Loopback: 100 us, 1 GB/s: 100 KB per round trip.
  Path p{100, 1e9, 1e12};
  WindowTuner t;
  WindowPool pool(kMiB, 32 * kMiB, 64ull * kMiB);
  EXPECT_EQ(kMiB, run(p, 10'000, t, pool, kMiB));
}

TEST(WindowTuner, NeverAboveTheOutsideCap) {
  Path p{200'000, 50e6, 1e12};
  WindowTuner t;
  WindowPool pool(kMiB, 32 * kMiB, 64ull * kMiB);
  EXPECT_EQ(3 * kMiB, run(p, 20, t, pool, kMiB, 3 * kMiB));
  EXPECT_EQ(2u * kMiB, pool.extra());
}

TEST(WindowTuner, TheQueueInTheSmoothedRoundTripDoesNotCount) {
  // Loopback under a bulk stream: 1 GB/s, a 50 us path, but probes wait
  // 2 ms behind the stream's own bytes. Sized from the smoothed round trip
  // the window would grow to fill that queue (4 MB); from the path's 50 us
  // it stays.
  WindowTuner t;
  uint32_t w = 128u << 10;
  int64_t now = 0;
  for (int i = 0; i < 1000; ++i) {
    now += 200;
    EXPECT_EQ(w, t.on_delivered(200'000, now, 2'000, 50, w));
  }
}

TEST(WindowTuner, AGrowthThatDoesNotPayIsTheLast) {
  // The rate is what the CPU allows (1 GB/s) whatever the window; the
  // path's round trip (200 us) makes one growth look worth it.
  WindowTuner t;
  WindowPool pool(128u << 10, 32 * kMiB, 64ull * kMiB);
  uint32_t w = 128u << 10;
  int64_t now = 0;
  int growths = 0;
  for (int i = 0; i < 1000; ++i) {
    now += 100;
    uint64_t want = t.on_delivered(100'000, now, 200, 200, w);
    uint32_t next = pool.grow(w, want);
    if (next > w) {
      t.grew();
      ++growths;
    }
    w = next;
  }
  EXPECT_EQ(1, growths);
  EXPECT_EQ(400'000u, w);
}

TEST(WindowTuner, GrowthResumesWhenTheRateRises) {
  WindowTuner t;
  uint32_t w = 128u << 10;
  // 1 GB/s over 200 us asks for 400 KB; granted.
  t.on_delivered(0, 0, 200, 200, w);
  EXPECT_EQ(400'000u, t.on_delivered(200'000, 200, 200, 200, w));
  t.grew();
  w = 400'000;
  // 1.2 GB/s would want 480 KB but is not 1.25x the rate before.
  EXPECT_EQ(w, t.on_delivered(240'000, 400, 200, 200, w));
  // 1.5 GB/s is.
  EXPECT_EQ(600'000u, t.on_delivered(300'000, 600, 200, 200, w));
}

TEST(WindowTuner, GrowsWhenTheRateLagsAGrowthByARoundTrip) {
  // As on a real long path: the peer uses new credit one round trip after
  // it is granted, so the first round trip after a growth shows the old
  // rate (and does not pay); the next shows the new one.
  Path p{200'000, 50e6, 1e12}; // 10 MB BDP
  WindowTuner t;
  WindowPool pool(128u << 10, 32 * kMiB, 64ull * kMiB);
  uint32_t window = 128u << 10, used = window;
  int64_t now = 1'000'000;
  for (int i = 0; i < 40; ++i) {
    double per_rtt = std::min(static_cast<double>(used), p.path_bps * 0.2);
    used = window; // credit granted in this round trip is used in the next
    for (int k = 0; k < 10; ++k) {
      now += p.rtt_us / 10;
      uint64_t want = t.on_delivered(static_cast<size_t>(per_rtt / 10), now,
                                     p.rtt_us, p.rtt_us, window);
      uint32_t next = pool.grow(window, want);
      if (next > window)
        t.grew();
      window = next;
    }
  }
  EXPECT_GE(window, 10'000'000u);
}

TEST(WindowPool, ManyStreamsShareTheChannelTotal) {
  // Eight bulk streams on the same long path, growing in turns.
  Path p{200'000, 50e6, 1e12};
  WindowPool pool(kMiB, 32 * kMiB, 16ull * kMiB);
  std::vector<WindowTuner> tuners(8);
  std::vector<uint32_t> windows(8, kMiB);
  int64_t clock = 1'000'000;
  for (int round = 0; round < 20; ++round)
    for (size_t i = 0; i < tuners.size(); ++i) {
      int64_t c = clock;
      windows[i] =
          run(p, 1, tuners[i], pool, windows[i], UINT64_MAX, nullptr, &c);
      if (i + 1 == tuners.size())
        clock = c;
    }
  uint64_t extra = 0;
  for (uint32_t w : windows) {
    EXPECT_GT(w, kMiB);                 // every stream grew...
    EXPECT_LE(w, kMiB + 16 * kMiB / 2); // ...none took the lion's share
    extra += w - kMiB;
  }
  EXPECT_LE(extra, 16ull * kMiB); // the channel's total holds
  EXPECT_EQ(extra, pool.extra());
  EXPECT_EQ(8u, pool.grown());
}

TEST(WindowPool, AStreamTakesNoMoreThanIsLeft) {
  WindowPool pool(kMiB, 32 * kMiB, 8ull * kMiB);
  EXPECT_EQ(9 * kMiB, pool.grow(kMiB, 40 * kMiB)); // alone: the whole total
  // A second stream: an equal share would be 4 MiB, but nothing is left.
  EXPECT_EQ(kMiB, pool.grow(kMiB, 4 * kMiB));
  EXPECT_EQ(1u, pool.grown());
  pool.release(9 * kMiB);
  EXPECT_EQ(0u, pool.extra());
  EXPECT_EQ(0u, pool.grown());
  EXPECT_EQ(2 * kMiB, pool.grow(kMiB, 2 * kMiB));
  // Now two share it: 4 MiB each above the base.
  EXPECT_EQ(5 * kMiB, pool.grow(kMiB, 40 * kMiB));
  EXPECT_EQ(5 * kMiB, pool.grow(2 * kMiB, 40 * kMiB));
  EXPECT_EQ(8ull * kMiB, pool.extra());
  EXPECT_EQ(2u, pool.grown());
}

TEST(WindowPool, NeverShrinksAndIgnoresSmallerWants) {
  WindowPool pool(kMiB, 32 * kMiB, 64ull * kMiB);
  EXPECT_EQ(4 * kMiB, pool.grow(kMiB, 4 * kMiB));
  EXPECT_EQ(4 * kMiB, pool.grow(4 * kMiB, 2 * kMiB));
  EXPECT_EQ(4 * kMiB, pool.grow(4 * kMiB, 8 * kMiB, 3 * kMiB));
  EXPECT_EQ(3ull * kMiB, pool.extra());
  EXPECT_EQ(1u, pool.grown());
}

TEST(WindowPool, ReleaseOfAnUngrownStreamChangesNothing) {
  WindowPool pool(kMiB, 32 * kMiB, 64ull * kMiB);
  pool.grow(kMiB, 2 * kMiB);
  pool.release(kMiB);
  EXPECT_EQ(1ull * kMiB, pool.extra());
  EXPECT_EQ(1u, pool.grown());
}
