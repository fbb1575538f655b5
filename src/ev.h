// unique_ptr aliases for libevent and OpenSSL handles. The functor deleter
// is stateless, so each pointer stays pointer-sized.
#pragma once

#include <cstdint>
#include <memory>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

template <auto Fn>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept {
    if (p) Fn(p);
  }
};

inline void evdns_base_free_all(evdns_base* b) { evdns_base_free(b, 1); }

using EventBasePtr = std::unique_ptr<event_base, CFree<event_base_free>>;
using EventPtr = std::unique_ptr<event, CFree<event_free>>;
using EvBufferPtr = std::unique_ptr<evbuffer, CFree<evbuffer_free>>;
using BufferEventPtr = std::unique_ptr<bufferevent, CFree<bufferevent_free>>;
using ListenerPtr = std::unique_ptr<evconnlistener, CFree<evconnlistener_free>>;
using EvdnsBasePtr = std::unique_ptr<evdns_base, CFree<evdns_base_free_all>>;

static_assert(sizeof(BufferEventPtr) == sizeof(void*), "deleter must be stateless");

// The loop's cached time in milliseconds: cheap, and the same for every
// callback of one loop turn.
inline int64_t loop_time_ms(event_base* base) {
  timeval tv;
  event_base_gettimeofday_cached(base, &tv);
  return tv.tv_sec * 1000LL + tv.tv_usec / 1000;
}

// The same in microseconds (round trips on short paths).
inline int64_t loop_time_us(event_base* base) {
  timeval tv;
  event_base_gettimeofday_cached(base, &tv);
  return tv.tv_sec * 1000000LL + tv.tv_usec;
}
