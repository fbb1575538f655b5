// The channel's round trip as the data sees it, measured by BDP probe
// PINGs in the manner of gRPC's BDP estimator: when DATA arrives and no
// probe is out, a PING goes out; its PONG comes back through the same
// queues the peer's DATA waits in, so the round trip counts them too.
// Probe payloads start with kMark, so the heartbeat's PONGs (a counter
// from 1, heartbeat.h) are never taken for ours. Pure: times in, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

class RttProbe {
 public:
  static constexpr uint8_t kMark = 0xB0;           // first byte of a probe PING
  static constexpr int64_t kMinGapUs = 10'000;     // at most one probe per 10 ms
  static constexpr int64_t kLostAfterUs = 2'000'000;  // an unanswered probe is lost after 2 s
  static constexpr int64_t kMinRttWindowUs = 2'000'000;  // min_rtt_us() forgets after 2 s

  // DATA arrived at now: whether a probe PING should go out now (none out,
  // or the one out is lost: the peer skips PINGs while it does not read).
  bool due(int64_t now_us) const;
  // The payload of a probe PING sent at now.
  std::string start(int64_t now_us);
  // A PONG at now: true if it answers our probe (its round trip is then
  // folded into srtt_us()); false if it is not ours (the heartbeat's).
  bool pong(const uint8_t* payload, size_t n, int64_t now_us);
  // Smoothed round trip (TCP's 7/8 + 1/8 of each sample) in microseconds,
  // -1 before the first answer.
  int64_t srtt_us() const { return srtt_us_; }
  // The least round trip of the last kMinRttWindowUs: the path without
  // the queues a bulk stream builds (BBR's min_rtt filter: a sample
  // replaces it when lower or when it is older than the window, so a path
  // that became longer is seen within that time; shorter than BBR's 10 s
  // since nothing here drains the queue to measure), -1 before the first
  // answer.
  int64_t min_rtt_us() const { return min_rtt_us_; }

 private:
  bool out_ = false;
  uint64_t seq_ = 0;  // of the probe out (or the last one)
  int64_t sent_at_ = 0;
  int64_t srtt_us_ = -1;
  int64_t min_rtt_us_ = -1;
  int64_t min_rtt_at_ = 0;  // when min_rtt_us_ was measured
};
