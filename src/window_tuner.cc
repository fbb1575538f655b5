#include "window_tuner.h"

#include <algorithm>

uint64_t WindowTuner::on_delivered(size_t n, int64_t now_us, int64_t srtt_us,
                                   int64_t path_rtt_us, uint32_t window) {
  if (srtt_us <= 0 || path_rtt_us <= 0)
    return window;
  if (epoch_start_ < 0 || now_us < epoch_start_) {
    epoch_start_ = now_us;
    epoch_bytes_ = 0;
    return window;
  }
  epoch_bytes_ += n;
  int64_t elapsed = now_us - epoch_start_;
  if (elapsed < srtt_us || elapsed < path_rtt_us)
    return window;
  // What one round trip of the path carried at the rate of this epoch: an
  // epoch stretched by an idle gap counts its gap against the rate.
  double rate =
      static_cast<double>(epoch_bytes_) / static_cast<double>(elapsed);
  epoch_start_ = now_us;
  epoch_bytes_ = 0;
  uint64_t want =
      2 * static_cast<uint64_t>(rate * static_cast<double>(path_rtt_us));
  if (want <= window)
    return window;
  if (grown_rate_ > 0 && rate < kGain * grown_rate_)
    return window; // the last growth did not pay
  asked_rate_ = rate;
  return want;
}

uint32_t WindowPool::grow(uint32_t current, uint64_t want,
                          uint64_t outside_max) {
  if (want <= current || current >= stream_max_)
    return current;
  size_t sharing = grown_ + (current > base_ ? 0 : 1);
  uint64_t cap =
      std::min<uint64_t>(stream_max_, base_ + extra_total_ / sharing);
  cap = std::min(cap, outside_max);
  // What others have taken is theirs until their streams end.
  uint64_t mine = current > base_ ? current - base_ : 0;
  uint64_t free_extra = extra_total_ - std::min(extra_total_, extra_ - mine);
  cap = std::min(cap, static_cast<uint64_t>(base_) + free_extra);
  uint64_t next = std::min(want, cap);
  if (next <= current)
    return current;
  if (current <= base_ && next > base_)
    ++grown_;
  extra_ += next - std::max<uint64_t>(current, base_);
  return static_cast<uint32_t>(next);
}

void WindowPool::release(uint32_t window) {
  if (window <= base_)
    return;
  extra_ -= std::min<uint64_t>(extra_, window - base_);
  if (grown_)
    --grown_;
}
