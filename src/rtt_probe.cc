#include "rtt_probe.h"

bool RttProbe::due(int64_t now_us) const {
  if (!out_) return seq_ == 0 || now_us - sent_at_ >= kMinGapUs;
  return now_us - sent_at_ >= kLostAfterUs;
}

std::string RttProbe::start(int64_t now_us) {
  out_ = true;
  sent_at_ = now_us;
  uint64_t n = ++seq_;
  std::string payload(8, '\0');
  payload[0] = static_cast<char>(kMark);
  for (int i = 7; i >= 1; --i, n >>= 8) payload[i] = static_cast<char>(n & 0xff);
  return payload;
}

bool RttProbe::pong(const uint8_t* payload, size_t n, int64_t now_us) {
  if (n != 8 || payload[0] != kMark) return false;
  uint64_t got = 0;
  for (size_t i = 1; i < 8; ++i) got = got << 8 | payload[i];
  // Only the answer to the probe out: a late answer to a lost one would
  // pair its bytes with the wrong send time.
  if (!out_ || got != (seq_ & 0x00ffffffffffffffULL) || now_us < sent_at_) return true;
  out_ = false;
  int64_t sample = now_us - sent_at_;
  srtt_us_ = srtt_us_ < 0 ? sample : srtt_us_ + (sample - srtt_us_) / 8;
  if (min_rtt_us_ < 0 || sample <= min_rtt_us_ || now_us - min_rtt_at_ > kMinRttWindowUs) {
    min_rtt_us_ = sample;
    min_rtt_at_ = now_us;
  }
  return true;
}
