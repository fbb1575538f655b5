// ForwardClient: dials the server, keeps one channel up (reconnecting with
// capped exponential back-off and jitter when it drops) and connects inner
// targets when the server asks.
#pragma once

#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "access.h"
#include "auth.h"
#include "ev.h"
#include "buffer_budget.h"
#include "log_throttle.h"
#include "metrics_report.h"
#include "reaper.h"
#include "stream.h"
#include "tls.h"
#include "tunnel.h"
#include "udp_target.h"

struct ClientOptions {
  std::string server_host;
  uint16_t server_port = 0;
  int retry_min_sec = 1;          // --retry-delay: first wait before reconnecting
  int retry_max_sec = 30;         // --retry-max: the wait doubles up to this
  bool reconnect = true;          // --no-reconnect: exit when the channel ends
  int connect_timeout_sec = 10;   // both the channel and inner targets
  int heartbeat_sec = 10;         // --heartbeat; 0: off
  int drain_timeout_sec = 10;     // on SIGTERM, wait this long for streams
  std::string tag = "default";    // --tag
  AuthSettingsPtr auth;           // key (or none) and --name
  ClientTlsOptions tls;
  std::shared_ptr<SSL_CTX> tls_ctx;  // set when tls.enabled
  TargetPolicy allow;                // --allow; empty: every target the server names
  // Limits against a server (or an on-path attacker on a plain channel)
  // that floods us; past them OPEN / UDP_OPEN get OPEN_FAIL resource_limit.
  size_t max_streams = 10000;              // --max-streams, per channel
  size_t max_udp_sessions = 4096;          // --max-udp-sessions, per channel
  size_t max_pending_bytes = 16u << 20;    // --max-pending-bytes: early data for connecting targets
};

class ForwardClient final : public TunnelHandler, public ChannelOpener {
 public:
  // done is called when the client has nothing left to do (stopped, or
  // --no-reconnect and the channel ended); its argument is the exit status.
  ForwardClient(event_base* base, ClientOptions options, std::function<void(int)> done);
  ~ForwardClient();

  // Sets up DNS and starts the first connection attempt.
  bool start(std::string& err);
  // Stops reconnecting; lets streams finish for up to drain_timeout_sec.
  void shutdown();
  // SIGUSR1: logs the status and, if waiting to reconnect, retries now.
  void poke();
  // Called each time a channel comes up (systemd's READY=1 after the first).
  void on_channel_up(std::function<void()> fn) { on_up_ = std::move(fn); }
  // One line for systemd's STATUS=.
  std::string summary() const;
  // The figures --metrics-listen shows (metrics_report.h).
  ClientMetrics metrics() const;
  bool channel_up() const { return tunnel_ && tunnel_->up(); }

  void tunnel_up(Tunnel& t) override;
  void tunnel_closed(Tunnel& t) override;
  void open_requested(Tunnel& t, uint32_t id, const frame::Open& open) override;
  void udp_open_requested(Tunnel& t, uint32_t id, const frame::UdpOpen& open) override;

 private:
  static void connect_event_cb(bufferevent*, short what, void* arg) noexcept;
  static void retry_cb(evutil_socket_t, short, void* arg) noexcept;
  static void drain_cb(evutil_socket_t, short, void* arg) noexcept;
  // A warning a flooding server triggers at will: logged once, then as a
  // count every few seconds (log_throttle.h).
  struct LimitWarning {
    LimitWarning(event_base* base, const char* what, const char* unit, const char* option);
    event_base* base;
    const char* what;    // "OPENs refused"
    const char* unit;    // "streams"
    const char* option;  // "--max-streams"
    LogThrottle throttle;
    EventPtr timer;
    std::string peer;
  };
  static void limit_warning_cb(evutil_socket_t, short, void* arg) noexcept;
  void warn_limit(LimitWarning& w, const std::string& peer, const std::string& line);
  // OPEN_FAIL resource_limit past a cap; true if id was refused.
  bool over_cap(Tunnel& t, uint32_t id, size_t count, size_t cap, LimitWarning& w,
                const char* kind, const std::string& host, uint16_t port);
  bool admit(Tunnel& t, uint32_t id, const std::string& host, uint16_t port, const char* kind);
  void connect_server();
  void on_connect_event(short what);
  void connection_lost();
  void schedule_retry();
  void drain_tick();

  event_base* base_;
  ClientOptions options_;
  std::function<void(int)> done_;
  // Declared before what holds streams, so it outlives them.
  BufferBudget pending_;  // --max-pending-bytes, hard (reserve())
  LimitWarning streams_warning_, udp_warning_, pending_warning_;
  TargetContext targets_;
  Reaper reaper_;
  EvdnsBasePtr dns_;
  EventPtr retry_timer_;
  EventPtr drain_timer_;
  BufferEventPtr connecting_;
  std::unique_ptr<Tunnel> tunnel_;
  std::function<void()> on_up_;
  SessionId session_;
  int failures_ = 0;  // consecutive attempts without a channel
  // Metrics: every stream's bytes and failures, target connect times.
  std::shared_ptr<TrafficCounters> counters_ = std::make_shared<TrafficCounters>();
  metrics::Histogram connect_seconds_{metrics::latency_buckets()};
  int64_t started_ = static_cast<int64_t>(time(nullptr));
  uint64_t attempts_ = 0, channels_up_ = 0;
  bool stopping_ = false;
  int64_t drain_deadline_ms_ = 0;
};
