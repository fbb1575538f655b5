// Client side of a UDP session: one connected UDP socket to the inner target
// per public peer, so the target's replies come back on the right session.
// A kind of Channel (channel.h), owned by the tunnel's table.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "access.h"
#include "channel.h"
#include "ev.h"
#include "target_resolver.h"
#include "unique_fd.h"

class Tunnel;

class UdpTarget final : public Channel {
 public:
  // Resolves host (asynchronously if it is a name; target_resolver.h,
  // which also applies --allow to the address) and connects. On failure
  // it answers OPEN_FAIL and ends. policy outlives us.
  UdpTarget(event_base* base, evdns_base* dns, const TargetPolicy& policy, Tunnel& tunnel,
            uint32_t id, const std::string& host, uint16_t port);
  ~UdpTarget() override;
  UdpTarget(const UdpTarget&) = delete;
  UdpTarget& operator=(const UdpTarget&) = delete;

  void start();
  // Before start(): a PROXY v2 header (DGRAM) sent ahead of every datagram
  // to the target, in the same datagram.
  void set_header(std::string header) { header_ = std::move(header); }
  // A datagram from the public peer, via the channel.
  void on_datagram(const uint8_t* p, size_t n) override { send(p, n); }
  bool on_open_fail(const frame::Failure&, std::string&) override { return true; }  // server-bound only
  void on_reset(const frame::Failure& f) override;
  void abort(const std::string& reason) override { end(reason); }
  void reset(const std::string& reason) override;

 private:
  static void readable_cb(evutil_socket_t, short, void* arg) noexcept;
  void on_resolved(const ResolvedTarget& r);
  void connect_to(const sockaddr* sa, socklen_t len);
  void fail(const std::string& why, int reason);
  void on_readable();
  void send(const uint8_t* p, size_t n);
  // Single exit: logs one line and leaves the tunnel's table. Idempotent.
  void end(const std::string& why);

  event_base* base_;
  evdns_base* dns_;
  const TargetPolicy& policy_;
  std::string host_;
  uint16_t port_;
  bool ended_ = false;
  TargetResolution resolution_;
  UniqueFd fd_;
  EventPtr read_event_;
  std::deque<std::string> pending_;  // datagrams that arrived while resolving
  std::string header_;               // PROXY v2 per datagram, or empty
  uint64_t dgrams_in_ = 0, dgrams_out_ = 0, bytes_in_ = 0, bytes_out_ = 0, dropped_ = 0;
};
