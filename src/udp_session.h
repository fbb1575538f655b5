// Server side of one UDP session: one public peer of a /udp mapping, on one
// tunnel. The tunnel's channel table owns it; its UdpPort finds it by the
// peer's address (an index that does not own it) and is told when it ends.
#pragma once

#include <cstdint>
#include <string>

#include <sys/socket.h>

#include "channel.h"
#include "frame.h"

class UdpPort;

class UdpSession final : public Channel {
 public:
  UdpSession(Tunnel& tunnel, uint32_t id, UdpPort& port, const sockaddr* peer, socklen_t len);

  // Asks the client for the session (UDP_OPEN) and logs its start.
  void start(const frame::ProxyBlock& proxy = {});
  // A datagram from the public peer; false if the channel dropped it.
  bool from_peer(const uint8_t* p, size_t n);
  const std::string& key() const { return key_; }  // the raw peer address
  const sockaddr* peer() const { return reinterpret_cast<const sockaddr*>(&peer_); }
  socklen_t peer_len() const { return peer_len_; }
  int64_t last_ms() const { return last_ms_; }

  void on_datagram(const uint8_t* p, size_t n) override;
  bool on_open_fail(const frame::Failure& f, std::string& err) override;
  void on_reset(const frame::Failure& f) override;
  void abort(const std::string& reason) override { end(reason, false); }
  void reset(const std::string& reason) override { end(reason, true); }

 private:
  // Single exit: RESET to the client if asked, one log line, out of the
  // port's index and the tunnel's table. Idempotent.
  void end(const std::string& why, bool tell_client);

  UdpPort& port_;  // outlives us: ~UdpPort ends its sessions first
  sockaddr_storage peer_{};
  socklen_t peer_len_ = 0;
  std::string key_;
  std::string peer_text_;
  int64_t started_ms_ = 0, last_ms_ = 0;
  uint64_t dgrams_in_ = 0, dgrams_out_ = 0, bytes_in_ = 0, bytes_out_ = 0, dropped_ = 0;
  bool ended_ = false;
};
