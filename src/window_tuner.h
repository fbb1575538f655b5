// Receive windows that fit the path (docs/PROTOCOL.md "Window
// auto-tuning"): a stream's window grows to twice what its local socket
// took in one round trip of the path, as Linux sizes a TCP receive buffer
// (tcp_rcv_space_adjust) and HPN-SSH its channel window. The path's round
// trip is the least one seen (min_rtt), not the smoothed one: a bulk
// stream's own queue inflates the latter, and a window sized from it grows
// to fill that queue, which is where an interactive frame then waits.
// A growth must pay: the next one needs a delivery rate at least 1.25x the
// rate before it (BBR's full-pipe test), so a stream that more window does
// not speed up (loopback, a busy CPU) stops after one. A stream held back
// by its window on a long path delivers a whole window per round trip and
// doubles it; one held back by its local peer stops growing at twice its
// rate times the round trip. Windows only grow, by larger WINDOW
// increments, and credit still returns only for bytes that left the
// user-space buffer, so a stream never holds more than its window.
//
// WindowPool bounds what all the streams of one channel grow together,
// and shares it among the streams that grow. Pure arithmetic, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>

// One stream's delivery rate per round trip.
class WindowTuner {
public:
  // The full-pipe test: a growth needs this much more rate than the last.
  static constexpr double kGain = 1.25;

  // n bytes left the user-space buffer at now (us). srtt_us: the channel's
  // smoothed round trip, the shortest span a rate is measured over;
  // path_rtt_us: its least round trip, which turns the rate into bytes per
  // round trip of the path (either <= 0: not known yet). Returns the
  // window the stream wants: more than `window` only when it delivered
  // more than half of it per path round trip and, after an earlier growth,
  // at least kGain times the rate it had before that growth.
  uint64_t on_delivered(size_t n, int64_t now_us, int64_t srtt_us,
                        int64_t path_rtt_us, uint32_t window);
  // The window did grow as the last on_delivered() asked: its rate is what
  // the next growth must beat.
  void grew() { grown_rate_ = asked_rate_; }

private:
  int64_t epoch_start_ = -1; // start of the current measurement
  uint64_t epoch_bytes_ = 0; // delivered since
  double asked_rate_ = 0;    // bytes/us of the epoch that last asked to grow
  double grown_rate_ = 0;    // bytes/us before the last growth (0: none yet)
};

// The growth above the base window that the streams of one channel may
// have together.
class WindowPool {
public:
  // base: every stream's initial window; stream_max: the largest window
  // one stream may reach; extra_total: the growth of all streams together.
  WindowPool(uint32_t base, uint32_t stream_max, uint64_t extra_total)
      : base_(base), stream_max_(stream_max), extra_total_(extra_total) {}
  // A stream with window `current` wants `want`; outside_max caps it too
  // (what the memory budget allows). Returns the window it may have now
  // (never below current) and counts the growth as taken. A stream's cap is
  // the smaller of stream_max and base plus an equal share of
  // extra_total among the streams that have grown, this one included.
  uint32_t grow(uint32_t current, uint64_t want,
                uint64_t outside_max = UINT64_MAX);
  // A stream with window `window` ended: its growth is free again.
  void release(uint32_t window);
  uint64_t extra() const { return extra_; }
  size_t grown() const { return grown_; }
  uint32_t base() const { return base_; }

private:
  uint32_t base_;
  uint32_t stream_max_;
  uint64_t extra_total_;
  uint64_t extra_ = 0; // growth taken by live streams
  size_t grown_ = 0;   // live streams above base
};
