#include "heartbeat.h"

namespace {
// "12.3" seconds from milliseconds, as the close reasons say it.
std::string seconds(int64_t ms) { return std::to_string(ms / 1000.0).substr(0, 4); }
}  // namespace

void Heartbeat::start(int64_t now, int64_t interval_ms) {
  interval_ = interval_ms;
  last_heard_ = now;
  last_progress_ = now;
  next_ping_ = now + interval_ms;
}

Heartbeat::Verdict Heartbeat::tick(int64_t now, int64_t written, size_t queued, std::string& why) {
  if (now - last_heard_ > 3 * interval_) {
    why = "nothing heard for " + seconds(now - last_heard_) +
          " s (3 heartbeats missed): peer presumed dead";
    return Verdict::dead;
  }
  // Progress is any byte written.
  if (written > last_progress_) last_progress_ = written;
  if (queued == 0) last_progress_ = now;
  if (now - last_progress_ > 3 * interval_) {
    why = "the peer has read nothing for " + seconds(now - last_progress_) +
          " s (3 heartbeats) while " + std::to_string(queued) + " bytes wait: presumed stuck";
    return Verdict::stuck;
  }
  if (now < next_ping_) return Verdict::wait;
  next_ping_ = now + interval_;
  return Verdict::ping;
}

std::string Heartbeat::next_ping(int64_t now) {
  std::string payload(8, '\0');
  uint64_t n = ++pings_sent_;
  last_ping_at_ = now;
  for (int i = 7; i >= 0; --i, n >>= 8) payload[i] = static_cast<char>(n & 0xff);
  return payload;
}

void Heartbeat::pong(const uint8_t* payload, size_t n, int64_t now) {
  if (n != 8 || pings_sent_ == 0) return;
  uint64_t counter = 0;
  for (size_t i = 0; i < 8; ++i) counter = counter << 8 | payload[i];
  // Only the answer to the last PING: an older one would overstate nothing
  // but is not worth a table of send times.
  if (counter == pings_sent_ && now >= last_ping_at_) rtt_ms_ = now - last_ping_at_;
}

HeartbeatTimer::HeartbeatTimer(event_base* base, Owner& owner)
    : ev_(event_new(base, -1, EV_PERSIST, tick_cb, this)), owner_(owner) {}

void HeartbeatTimer::start(int interval_sec) {
  if (!ev_) return;
  int64_t quarter_ms = interval_sec * 250LL;
  timeval tv{static_cast<time_t>(quarter_ms / 1000), static_cast<suseconds_t>(quarter_ms % 1000 * 1000)};
  event_add(ev_.get(), &tv);
}

void HeartbeatTimer::tick_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<HeartbeatTimer*>(arg)->owner_.heartbeat_tick();
}
