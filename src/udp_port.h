// Server side of UDP mappings: one bound UDP socket per mapping. Each public
// peer (address, port) is a session with its own id on a channel, so the
// client gives it its own connected socket and replies come back to the
// peer that asked. Sessions end after UDP_TIMEOUT idle, when the channel
// goes, or when the mapping is removed.
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

  // A DATAGRAM from the channel; false if (t, id) is not one of ours.
  bool from_channel(Tunnel& t, uint32_t id, const uint8_t* p, size_t n);
  // The client ended (t, id) (RESET / OPEN_FAIL); false if not ours.
  bool closed_by_client(Tunnel& t, uint32_t id, const std::string& why);
  // The channel is gone: forget its sessions.
  void channel_lost(Tunnel& t);
  size_t session_count() const { return by_peer_.size(); }
  std::string counters() const;

 private:
  struct Session {
    uint32_t id = 0;
    Tunnel* tunnel = nullptr;
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    std::string peer_text;
    int64_t started_ms = 0, last_ms = 0;
    uint64_t dgrams_in = 0, dgrams_out = 0, bytes_in = 0, bytes_out = 0, dropped = 0;
  };

  static void readable_cb(evutil_socket_t, short, void* arg) noexcept;
  static void sweep_cb(evutil_socket_t, short, void* arg) noexcept;
  void on_readable();
  void sweep();
  Session* open_session(const sockaddr* peer, socklen_t len, const std::string& key);
  // Logs the end line and forgets the session; tells the client if asked.
  void end(std::map<std::string, std::unique_ptr<Session>>::iterator it, const std::string& why,
           bool tell_client);

  event_base* base_;
  std::shared_ptr<const Mapping> mapping_;
  UdpLimits limits_;
  PickTunnel pick_;
  UniqueFd fd_;
  EventPtr read_event_;
  EventPtr sweep_timer_;
  std::map<std::string, std::unique_ptr<Session>> by_peer_;    // key: raw peer sockaddr
  std::map<std::pair<const Tunnel*, uint32_t>, Session*> by_id_;
  uint64_t dropped_oversize_ = 0, dropped_congested_ = 0, dropped_denied_ = 0,
           dropped_no_client_ = 0, dropped_limit_ = 0;
};
