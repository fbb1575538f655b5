// ForwardClient: dials the server, keeps one channel up (reconnecting after
// a delay when it drops) and connects inner targets when the server asks.
#pragma once

#include <memory>
#include <string>

#include "access.h"
#include "auth.h"
#include "ev.h"
#include "reaper.h"
#include "tls.h"
#include "tunnel.h"

struct ClientOptions {
  std::string server_host;
  uint16_t server_port = 0;
  int retry_delay_sec = 2;
  int connect_timeout_sec = 10;  // both the channel and inner targets
  AuthSettingsPtr auth;           // key (or none) and --name
  ClientTlsOptions tls;
  std::shared_ptr<SSL_CTX> tls_ctx;  // set when tls.enabled
  TargetPolicy allow;                // --allow; empty: every target the server names
};

class ForwardClient final : public TunnelHandler {
 public:
  ForwardClient(event_base* base, ClientOptions options);
  ~ForwardClient();

  // Sets up DNS and starts the first connection attempt.
  bool start(std::string& err);
  void stop();
  void log_status() const;

  void tunnel_up(Tunnel& t) override;
  void tunnel_closed(Tunnel& t) override;
  void open_requested(Tunnel& t, uint32_t id, const frame::Open& open) override;

 private:
  static void connect_event_cb(bufferevent*, short what, void* arg) noexcept;
  static void retry_cb(evutil_socket_t, short, void* arg) noexcept;
  void connect_server();
  void on_connect_event(short what);
  void schedule_retry();

  event_base* base_;
  ClientOptions options_;
  Reaper reaper_;
  EvdnsBasePtr dns_;
  EventPtr retry_timer_;
  BufferEventPtr connecting_;
  std::unique_ptr<Tunnel> tunnel_;
  bool stopping_ = false;
};
