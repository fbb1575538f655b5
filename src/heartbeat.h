// Keepalive of a channel: a PING every interval, the peer presumed dead
// after three silent intervals, and presumed stuck when it has read
// nothing for three intervals while output waits for it (a peer that
// talks, PINGs count as life, but never reads would only make its queue
// grow). Heartbeat decides from times alone; HeartbeatTimer ticks it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ev.h"

class Heartbeat {
 public:
  enum class Verdict { wait, ping, dead, stuck };

  // The channel is up at now (ms): it counts as heard from and as having
  // read everything; the first PING is due one interval later.
  void start(int64_t now, int64_t interval_ms);
  // Any frame from the peer is a sign of life.
  void heard(int64_t now) { last_heard_ = now; }
  // One tick at now: written is when bytes last left for the peer, queued
  // how many still wait. dead and stuck set why (the close reason); ping
  // means send next_ping().
  Verdict tick(int64_t now, int64_t written, size_t queued, std::string& why);
  // The payload of the next PING, sent at now: a big-endian 8-byte
  // counter from 1.
  std::string next_ping(int64_t now);
  // A PONG arrived at now: if it answers the last PING, its round trip
  // becomes rtt_ms().
  void pong(const uint8_t* payload, size_t n, int64_t now);
  // The last measured round trip in ms; -1 before the first.
  int64_t rtt_ms() const { return rtt_ms_; }

 private:
  int64_t interval_ = 0;
  int64_t last_heard_ = 0;     // the last frame from the peer
  int64_t last_progress_ = 0;  // the output last moved (or was empty)
  int64_t next_ping_ = 0;
  uint64_t pings_sent_ = 0;
  int64_t last_ping_at_ = 0;
  int64_t rtt_ms_ = -1;
};

// A persistent timer ticking four times per interval, so silence is noticed
// soon after it passes three intervals.
class HeartbeatTimer {
 public:
  class Owner {
   public:
    virtual void heartbeat_tick() = 0;  // may free the timer

   protected:
    ~Owner() = default;
  };

  HeartbeatTimer(event_base* base, Owner& owner);
  void start(int interval_sec);
  void stop() { ev_.reset(); }

 private:
  static void tick_cb(evutil_socket_t, short, void* arg) noexcept;

  EventPtr ev_;
  Owner& owner_;
};
