// Server side of UDP mappings: one bound UDP socket per mapping. Each public
// peer (address, port) is a session (udp_session.h) with its own id in a
// tunnel's channel table, so the client gives it its own connected socket
// and replies come back to the peer that asked. The port keeps an index of
// its sessions by peer; the tunnel owns them. Sessions end after
// UDP_TIMEOUT idle, when the tunnel goes, or when the mapping is removed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include <sys/socket.h>

#include "config.h"
#include "ev.h"
#include "unique_fd.h"

class Tunnel;
class UdpSession;

struct UdpLimits {
  int timeout_sec = 60;
  int max_sessions = 1024;
  int max_datagram = 65507;
};

class UdpPort {
 public:
  using PickTunnel = std::function<Tunnel*(const std::string& tag)>;

  UdpPort(event_base* base, std::shared_ptr<const Mapping> mapping, UdpLimits limits,
          PickTunnel pick);
  ~UdpPort();  // ends every session (RESET to the client) and closes the socket
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;

  bool bind(std::string& err);
  void set_mapping(std::shared_ptr<const Mapping> m, UdpLimits limits);
  const Mapping& mapping() const { return *mapping_; }

  // A session's datagram back to its public peer; false if sendto failed.
  bool send_to_peer(const UdpSession& s, const uint8_t* p, size_t n);
  // A session has ended: out of the index.
  void forget(const UdpSession& s);
  size_t session_count() const { return by_peer_.size(); }
  // forward-ctl disable/enable: while not accepting, datagrams of live
  // sessions still flow both ways, and those from any other peer are
  // dropped and counted (no new session).
  void set_accepting(bool on) { accepting_ = on; }
  std::string counters() const;
  // The same counts for metrics: oversize, channel_busy, rules, no_client, limit.
  std::map<std::string, uint64_t> drops() const;
  // Metrics: sessions opened, datagram payload bytes from and to public peers.
  uint64_t sessions_opened() const { return sessions_opened_; }
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  static void readable_cb(evutil_socket_t, short, void* arg) noexcept;
  static void sweep_cb(evutil_socket_t, short, void* arg) noexcept;
  void on_readable();
  void sweep();
  UdpSession* open_session(const sockaddr* peer, socklen_t len, const std::string& key);
  // Ends (RESET to the client) every session the predicate picks.
  template <class Pred>
  void end_sessions(Pred pick, const std::string& why);

  event_base* base_;
  std::shared_ptr<const Mapping> mapping_;
  UdpLimits limits_;
  PickTunnel pick_;
  UniqueFd fd_;
  EventPtr read_event_;
  EventPtr sweep_timer_;
  std::map<std::string, UdpSession*> by_peer_;  // key: raw peer sockaddr; owned by tunnels
  bool accepting_ = true;
  sockaddr_storage local_{};  // the bound address: PROXY v2's destination
  uint64_t refused_no_proxy_ = 0;  // datagrams dropped: the client cannot write PROXY headers
  uint64_t dropped_oversize_ = 0, dropped_congested_ = 0, dropped_denied_ = 0,
           dropped_no_client_ = 0, dropped_limit_ = 0, dropped_disabled_ = 0;
  uint64_t sessions_opened_ = 0, bytes_in_ = 0, bytes_out_ = 0;
};
