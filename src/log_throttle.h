// Rate limit for a warning that a peer can trigger at will (a server
// flooding OPENs past a cap): the first event of a burst is logged at once,
// the rest are counted and reported at most once per interval, so a flood
// costs a few log lines, not one per request. Pure: the caller passes the
// time and owns the timer that reports the count.
#pragma once

#include <cstdint>

class LogThrottle {
 public:
  explicit LogThrottle(int64_t interval_ms) : interval_ms_(interval_ms) {}
  // An event at now_ms: true if it is to be logged in full (the first after
  // a quiet interval); otherwise it is counted for take_suppressed().
  bool admit(int64_t now_ms);
  // The events counted since the last report, to be logged as one line
  // now; starts a new interval if there were any.
  uint64_t take_suppressed(int64_t now_ms);
  uint64_t suppressed() const { return suppressed_; }
  int64_t interval_ms() const { return interval_ms_; }

 private:
  int64_t interval_ms_;
  int64_t last_ms_ = 0;
  bool logged_ = false;  // last_ms_ is set
  uint64_t suppressed_ = 0;
};
