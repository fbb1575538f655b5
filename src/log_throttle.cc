#include "log_throttle.h"

bool LogThrottle::admit(int64_t now_ms) {
  if (suppressed_ == 0 && (!logged_ || now_ms - last_ms_ >= interval_ms_)) {
    logged_ = true;
    last_ms_ = now_ms;
    return true;
  }
  ++suppressed_;
  return false;
}

uint64_t LogThrottle::take_suppressed(int64_t now_ms) {
  uint64_t n = suppressed_;
  if (n) {
    suppressed_ = 0;
    logged_ = true;
    last_ms_ = now_ms;
  }
  return n;
}
