// ForwardServer: listens on INNER_PORT for forward-client channels and on
// one public port per mapping; each public connection becomes a stream on
// the newest live channel.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "ev.h"
#include "listener.h"
#include "reaper.h"
#include "tunnel.h"

class ForwardServer final : public TunnelHandler {
 public:
  ForwardServer(event_base* base, ServerConfig config);
  ~ForwardServer();

  // Binds INNER_PORT and every public port; false with err if any fails.
  bool start(std::string& err);
  // Closes listeners and channels (streams are aborted).
  void stop();
  void log_status() const;

  void tunnel_up(Tunnel& t) override;
  void tunnel_closed(Tunnel& t) override;
  void open_requested(Tunnel& t, uint32_t id, const frame::Open& open) override;

 private:
  struct PublicPort {
    std::shared_ptr<const Mapping> mapping;
    std::unique_ptr<Listener> listener;
  };

  void accept_client(evutil_socket_t fd, const sockaddr* peer);
  void accept_public(const std::shared_ptr<const Mapping>& m, evutil_socket_t fd,
                     const sockaddr* peer);
  Tunnel* pick_tunnel();

  event_base* base_;
  ServerConfig config_;
  Reaper reaper_;
  std::unique_ptr<Listener> inner_;
  std::vector<PublicPort> ports_;
  std::list<std::unique_ptr<Tunnel>> tunnels_;  // handshaking and up, oldest first
};
