// Token buckets for RATE_LIMIT (per mapping, per [CLIENTS] name). Pure: the
// caller passes the time, so the arithmetic is unit-tested on its own.
//
// A limited stream never buffers more because of a limit: the server reads
// from the public socket only what the bucket allows (upload) and returns
// WINDOW credit to the client only as fast as the bucket allows (download),
// so the peer simply gets credit more slowly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

class TokenBucket {
 public:
  // rate bytes per second; burst: what may go at once after a quiet spell.
  TokenBucket(uint64_t rate, uint64_t burst);
  // Bytes that may go now (0: wait).
  uint64_t available(int64_t now_ms);
  void take(uint64_t n);
  // Milliseconds until at least `want` (capped at the burst) may go; >= 1.
  int64_t wait_ms(uint64_t want, int64_t now_ms);
  uint64_t rate() const { return rate_; }

 private:
  void refill(int64_t now_ms);
  uint64_t rate_;
  uint64_t burst_;
  double tokens_;
  int64_t last_ms_ = -1;
};

// One limit, both directions (each gets the full rate).
struct RateLimiter {
  explicit RateLimiter(uint64_t rate);
  uint64_t rate;
  TokenBucket up;    // public peer -> channel
  TokenBucket down;  // channel -> public peer
};
using RateLimiterPtr = std::shared_ptr<RateLimiter>;

// What every limiter of a stream allows at once: the least of them, or
// UINT64_MAX with none. take() takes from each.
struct RateLimits {
  std::vector<RateLimiterPtr> limiters;
  bool empty() const { return limiters.empty(); }
  uint64_t available(bool up, int64_t now_ms) const;
  void take(bool up, uint64_t n) const;
  int64_t wait_ms(bool up, uint64_t want, int64_t now_ms) const;
};

// The burst of a limit: a tenth of a second's worth, at least 16 KiB, so
// a limited stream moves in steady small steps.
uint64_t rate_burst(uint64_t rate);
