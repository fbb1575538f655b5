// Client side of a UDP session: one connected UDP socket to the inner target
// per public peer, so the target's replies come back on the right session.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "access.h"
#include "ev.h"
#include "reaper.h"
#include "target_resolver.h"
#include "unique_fd.h"

class Tunnel;

class UdpTarget : public Disposable {
 public:
  // Resolves host (asynchronously if it is a name; target_resolver.h,
  // which also applies --allow to the address) and connects. On failure
  // it answers OPEN_FAIL and asks the owner to forget it. policy outlives us.
  UdpTarget(event_base* base, evdns_base* dns, const TargetPolicy& policy, Tunnel& tunnel,
            uint32_t id, const std::string& host, uint16_t port,
            std::function<void(uint32_t)> forget);
  ~UdpTarget() override;
  UdpTarget(const UdpTarget&) = delete;
  UdpTarget& operator=(const UdpTarget&) = delete;

  void start();
  // A datagram from the public peer, via the channel.
  void send(const uint8_t* p, size_t n);
  void log_end(const std::string& why);

 private:
  static void readable_cb(evutil_socket_t, short, void* arg) noexcept;
  void on_resolved(const ResolvedTarget& r);
  void connect_to(const sockaddr* sa, socklen_t len);
  void fail(const std::string& why, int reason);
  void on_readable();

  event_base* base_;
  evdns_base* dns_;
  const TargetPolicy& policy_;
  Tunnel& tunnel_;
  uint32_t id_;
  std::string host_;
  uint16_t port_;
  std::function<void(uint32_t)> forget_;
  TargetResolution resolution_;
  UniqueFd fd_;
  EventPtr read_event_;
  std::deque<std::string> pending_;  // datagrams that arrived while resolving
  uint64_t dgrams_in_ = 0, dgrams_out_ = 0, bytes_in_ = 0, bytes_out_ = 0, dropped_ = 0;
};
