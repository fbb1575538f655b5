#include "rate_limit.h"

#include <algorithm>
#include <cmath>

uint64_t rate_burst(uint64_t rate) { return std::max<uint64_t>(rate / 10, 16384); }

TokenBucket::TokenBucket(uint64_t rate, uint64_t burst)
    : rate_(rate), burst_(burst), tokens_(static_cast<double>(burst)) {}

void TokenBucket::refill(int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms > last_ms_)
    tokens_ = std::min(static_cast<double>(burst_),
                       tokens_ + static_cast<double>(rate_) * static_cast<double>(now_ms - last_ms_) / 1000.0);
  if (now_ms > last_ms_) last_ms_ = now_ms;
}

uint64_t TokenBucket::available(int64_t now_ms) {
  refill(now_ms);
  return tokens_ > 0 ? static_cast<uint64_t>(tokens_) : 0;
}

// May go below zero when several streams take what each saw as available
// in one turn; the debt is paid by waiting.
void TokenBucket::take(uint64_t n) { tokens_ -= static_cast<double>(n); }

int64_t TokenBucket::wait_ms(uint64_t want, int64_t now_ms) {
  refill(now_ms);
  double need = static_cast<double>(std::min(std::max<uint64_t>(want, 1), burst_)) - tokens_;
  if (need <= 0) return 1;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(need * 1000.0 / static_cast<double>(rate_))));
}

RateLimiter::RateLimiter(uint64_t r) : rate(r), up(r, rate_burst(r)), down(r, rate_burst(r)) {}

uint64_t RateLimits::available(bool up, int64_t now_ms) const {
  uint64_t n = UINT64_MAX;
  for (const auto& l : limiters) n = std::min(n, (up ? l->up : l->down).available(now_ms));
  return n;
}

void RateLimits::take(bool up, uint64_t n) const {
  for (const auto& l : limiters) (up ? l->up : l->down).take(n);
}

int64_t RateLimits::wait_ms(bool up, uint64_t want, int64_t now_ms) const {
  int64_t ms = 1;
  for (const auto& l : limiters) ms = std::max(ms, (up ? l->up : l->down).wait_ms(want, now_ms));
  return ms;
}
