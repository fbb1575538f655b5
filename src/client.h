// ForwardClient: keeps a channel up to each of its servers (a ServerLink
// each, reconnecting on its own) and connects inner targets when a server
// asks. What the links share: the DNS resolver, --allow, the early-data
// budget and the limit warnings.
#pragma once

#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>

#include "client_events.h"
#include "client_options.h"
#include "ev.h"
#include "buffer_budget.h"
#include "log_throttle.h"
#include "metrics_report.h"
#include "reaper.h"
#include "server_link.h"
#include "stream.h"
#include "tunnel.h"
#include "udp_target.h"

class ForwardClient final : public TunnelHandler, public ChannelOpener {
 public:
  // done is called when the client has nothing left to do (stopped, or
  // --no-reconnect and every channel ended); its argument is the exit status.
  ForwardClient(event_base* base, ClientOptions options, std::function<void(int)> done);
  ~ForwardClient();

  // Sets up DNS and starts the first connection attempt to every server.
  bool start(std::string& err);
  // Stops reconnecting; lets streams finish for up to drain_timeout_sec.
  void shutdown();
  // SIGUSR1: logs each channel's status; links waiting to reconnect retry now.
  void poke();
  // Called each time a channel comes up (systemd's READY=1 after the first).
  void on_channel_up(std::function<void()> fn) { on_up_ = std::move(fn); }
  // Who hears of channels, exposed ports and requests (the console); not
  // owned; nullptr: nobody.
  void set_events(ClientEvents* events) { events_ = events ? events : &no_events_; }
  // One line for systemd's STATUS=.
  std::string summary() const;
  // The figures --metrics-listen shows (metrics_report.h), over all servers.
  ClientMetrics metrics() const;
  // At least one server's channel is up.
  bool channel_up() const;

  void tunnel_up(Tunnel& t) override;
  void tunnel_closed(Tunnel& t) override;
  void open_requested(Tunnel& t, uint32_t id, const frame::Open& open) override;
  void udp_open_requested(Tunnel& t, uint32_t id, const frame::UdpOpen& open) override;
  void request_reported(Tunnel& t, uint32_t id, const frame::Request& r) override;
  void expose_replied(Tunnel& t, const frame::ExposeReply& r) override;

 private:
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
  ServerLink* link_of(const Tunnel& t) const;
  // --expose: asks the server for every SPEC (EXPOSE), if it speaks it.
  void ask_exposures(Tunnel& t, const ServerLink& link);
  // The target is one of our --expose targets that t's server granted:
  // --allow does not apply.
  bool exposed_target(const Tunnel& t, const std::string& host, uint16_t port, bool udp) const;
  void link_gave_up();
  size_t stream_count() const;  // over every channel
  void drain_tick();

  event_base* base_;
  ClientOptions options_;
  std::function<void(int)> done_;
  // Declared before what holds streams, so it outlives them.
  BufferBudget pending_;  // --max-pending-bytes, hard (reserve())
  LimitWarning streams_warning_, udp_warning_, pending_warning_;
  TargetContext targets_;
  TargetPolicy allow_all_;          // exposed targets: the client chose them
  // The --expose requests (index + 1) each channel's server granted.
  std::map<const Tunnel*, std::set<uint32_t>> granted_;
  TargetContext exposed_targets_;   // targets_ with allow_all_
  Reaper reaper_;
  EvdnsBasePtr dns_;
  EventPtr drain_timer_;
  std::function<void()> on_up_;
  SessionId session_;  // one for the process, sent to every server
  // After the reaper: a link's tunnel is buried there when it closes.
  std::vector<std::unique_ptr<ServerLink>> links_;
  // Metrics: every stream's bytes and failures, target connect times.
  std::shared_ptr<TrafficCounters> counters_ = std::make_shared<TrafficCounters>();
  metrics::Histogram connect_seconds_{metrics::latency_buckets()};
  int64_t started_ = static_cast<int64_t>(time(nullptr));
  uint64_t channels_up_ = 0;
  bool stopping_ = false;
  int64_t drain_deadline_ms_ = 0;
  ClientEvents no_events_;
  ClientEvents* events_ = &no_events_;
};
