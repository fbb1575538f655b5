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
#include "secrets.h"
#include "tunnel.h"

class ForwardServer final : public TunnelHandler {
 public:
  ForwardServer(event_base* base, ServerConfig config, ServerSecrets secrets);
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
  // Live streams per mapping, for MAX_CONNECTIONS. Each stream holds a lease
  // on its counter, so the count stays right however the stream ends.
  using Counter = std::shared_ptr<size_t>;

  void accept_client(evutil_socket_t fd, const sockaddr* peer);
  void accept_public(const std::shared_ptr<const Mapping>& m, const Counter& live,
                     evutil_socket_t fd, const sockaddr* peer);
  Tunnel* pick_tunnel();
  // Keeps connections still in the handshake under MAX_HANDSHAKES by
  // dropping the oldest, so junk cannot lock a real client out.
  void limit_pending_handshakes();

  event_base* base_;
  ServerConfig config_;
  ServerSecrets secrets_;
  Reaper reaper_;
  std::unique_ptr<Listener> inner_;
  std::vector<PublicPort> ports_;
  std::list<std::unique_ptr<Tunnel>> tunnels_;  // handshaking and up, oldest first
};
