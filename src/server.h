// ForwardServer: listens on INNER_PORT for forward-client channels and on
// one public port per mapping; each public connection becomes a stream on a
// channel whose client serves the mapping's tag (round robin among them).
//
// Reload (SIGHUP) diffs mappings by public address (mapping_diff.h):
// unchanged ones keep their listener and streams, changed ones apply to new
// streams, removed ones stop listening while their streams drain (in
// draining_, see public_port.h), added ones start.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "buffer_budget.h"
#include "channel_policy.h"
#include "client_ports.h"
#include "config.h"
#include "ev.h"
#include "listener.h"
#include "mapping_diff.h"
#include "public_port.h"
#include "reaper.h"
#include "server_view.h"
#include "secrets.h"
#include "tunnel.h"
#include "udp_port.h"
#include "unique_fd.h"

class ForwardServer final : public TunnelHandler, private PortHost {
 public:
  ForwardServer(event_base* base, ServerConfig config, ServerSecrets secrets);
  ~ForwardServer();

  // Binds INNER_PORT and every public port; false with err if any fails.
  bool start(std::string& err);
  // Applies a new configuration that has already been validated, all or
  // nothing: if a new listener (INNER_PORT or a public port) cannot be
  // bound, every failure is logged, nothing changes, and it returns false.
  bool reload(ServerConfig config, ServerSecrets secrets);
  // Stops accepting, lets streams finish for up to DRAIN_TIMEOUT seconds,
  // then closes every channel and calls done.
  void shutdown(std::function<void()> done);
  void log_status() const;
  // One line for systemd's STATUS=: "2 clients, 3 mappings, 40 streams, 1 UDP session".
  std::string summary() const;
  // For forward-ctl: rows copied from the live objects; streams only when
  // with_streams (all, or those of one mapping if mapping is not empty).
  ServerView view(bool with_streams, const std::string& mapping = "") const;
  // forward-ctl kick: closes the channels of a client named by its name, a
  // session prefix, or its peer address (with or without the port); their
  // streams are reset. How many were closed.
  size_t kick(const std::string& who);
  // forward-ctl disable/enable MAPPING (its public address as mappings
  // shows it); false with err.
  bool set_enabled(const std::string& mapping, bool on, std::string& err);
  // forward-ctl drain (and TERM): /ready answers 503 from now on, so load
  // balancers stop sending; the server goes on accepting and serving.
  void drain();
  bool draining() const { return drain_requested_; }
  // /ready?mapping=KEY (a public address as mappings shows it, or a port,
  // "1234" or "5353/udp"): 200 while a matching mapping listens and a
  // client of its tag has a channel up, 503 when not, 404 for no mapping.
  // body says which.
  int mapping_ready(const std::string& key, std::string& body) const;
  // forward-ctl add (server_runtime.cc): binds m's port, then writes it to
  // STATE_FILE; all or nothing. false with err (a clash, the bind, the
  // write) and nothing changed.
  bool add_mapping(Mapping m, std::string& err);
  // forward-ctl remove: drops a runtime mapping (named by its public
  // address) from STATE_FILE, then stops listening while its streams drain
  // as a reload's removal does. A mapping of the configuration is refused.
  bool remove_mapping(const std::string& name, std::string& err);
  // The outcome of the last reload, for forward-ctl status.
  void note_reload(bool ok);
  const ServerConfig& config() const { return config_; }

  void tunnel_up(Tunnel& t) override;
  void tunnel_closed(Tunnel& t) override;
  bool admit_channel(Tunnel& t, std::string& why) override;
  void expose_requested(Tunnel& t, const frame::Expose& e) override;

 private:
  // forward-client --expose (server_expose.cc). An exposed port is a
  // PublicPort in ports_ like any mapping; its Mapping::exposed_by names the
  // client, and its tag is a route ("client NAME tcp 20001", which no
  // --tag can be) served only by the channels that asked for that port.
  static std::string exposure_owner(const Tunnel& t);  // "client NAME" or "session HEX"
  Mapping exposed_mapping(const Exposure& e) const;
  static std::string exposure_route(const Exposure& e);
  Tunnel* pick_exposure_channel(const std::string& route);
  void claim_exposure(const std::string& route, Tunnel& t);  // t serves route from now on
  // Why port (of EXPOSE_ADDR) is not free: a mapping, INNER_PORT or a
  // client's port; "" if free.
  std::string port_taken(uint16_t port, bool udp, const std::string& owner) const;
  void send_expose_reply(Tunnel& t, uint32_t request, frame::ExposeResult result, uint16_t port,
                         const std::string& text);
  // t ended: its claims go; if it was its client's last channel, the
  // client's ports start their EXPOSE_HOLD.
  void exposure_owner_down(Tunnel& t);
  // Stops listening on an exposed port; its streams drain like a removed mapping's.
  void release_exposure(const Exposure& e, const std::string& why);
  void schedule_expose_hold();
  static void expose_hold_cb(evutil_socket_t, short, void* arg) noexcept;
  // Reload: file mappings on a port a client holds (errors naming it).
  void exposure_clashes(const ServerConfig& nc, std::vector<std::string>& failures) const;
  // Reload done: releases ports whose grant is gone, applies new rules.
  void refresh_exposures();

  std::unique_ptr<Listener> bind_inner(const ServerConfig& c, std::string& err);
  std::unique_ptr<PublicPort> bind_public(const Mapping& m, std::string& err);
  // Reload steps (mapping_diff.h): bind what is new, then apply.
  struct StagedPorts {
    std::vector<std::unique_ptr<PublicPort>> bound;  // added mappings, listening
    std::vector<const Mapping*> after_removals;      // their port is freed by a removal
  };
  std::vector<Mapping> listening_mappings() const;
  StagedPorts stage_ports(const MappingDiff& d, std::vector<std::string>& failures);
  void apply_mapping_diff(const MappingDiff& d, StagedPorts& staged, int drain_timeout_sec);
  void remove_port(const std::string& name, int drain_timeout_sec);
  // STATE_FILE with entries; on success their file:line everywhere. false with err.
  bool save_runtime(const std::vector<Mapping>& entries, std::string& err);
  void add_port(const Mapping& m);
  void accept_client(UniqueFd fd, const sockaddr* peer);
  // Gives the connections held for tag, oldest first, to its channels.
  void release_held(const std::string& tag);
  size_t held_count() const;  // in all ports, draining ones included

  // PortHost
  Tunnel* pick_tunnel(const std::string& tag) override;
  bool may_hold() const override;
  uint64_t next_held_id() override { return ++held_ids_; }
  size_t abort_streams(const void* owner, const std::string& why) override;
  void port_drained(PublicPort& port) override;
  RateLimiterPtr client_rate_limit(const Tunnel& t) override;
  // [CLIENTS] NAME.RATE_LIMIT: a limiter per name; one whose rate a reload
  // changes is replaced (for new streams), the others kept.
  void refresh_client_rate_limits();

  // Keeps connections still in the handshake under MAX_HANDSHAKES by
  // dropping the oldest, so junk cannot lock a real client out.
  void limit_pending_handshakes();
  size_t pending_handshakes() const;  // channels not up yet
  size_t pending_from(const std::string& source) const;  // ... from one address
  // MAX_HANDSHAKES_PER_SOURCE: drops the oldest handshake of that address.
  void limit_pending_from(const std::string& source);
  // Reload: closes the channels whose key was removed or changed, or whose
  // tag their client may no longer serve.
  void revoke_channels();
  TunnelOptions tunnel_options();
  // Logs the TLS certificate's fingerprint (as forward-client --fingerprint
  // takes it) when it differs from the one logged last: at start, and
  // after a reload that changed it.
  void log_tls_fingerprint();
  UdpLimits udp_limits() const;
  size_t stream_count() const;
  static void drain_tick_cb(evutil_socket_t, short, void* arg) noexcept;
  void drain_tick();

  event_base* base_;
  int64_t started_;                 // wall clock, for forward-ctl status
  int64_t last_reload_ = 0;
  bool last_reload_ok_ = true;
  int64_t last_reload_success_;  // the start counts as one
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  // Channels by how their handshake ended (metrics).
  uint64_t sessions_accepted_ = 0, sessions_refused_ = 0, sessions_never_up_ = 0;
  ServerConfig config_;
  std::map<std::string, RateLimiterPtr> client_rates_;
  bool drain_requested_ = false;  // forward-ctl drain: /ready answers 503
  ServerSecrets secrets_;
  std::string tls_fingerprint_;  // last logged; "" without TLS
  Reaper reaper_;
  BufferBudget budget_;  // MAX_BUFFERED_BYTES; outlives every stream
  TagGrants grants_;     // [CLIENTS] NAME.TAGS
  std::unique_ptr<Listener> inner_;
  std::map<std::string, std::unique_ptr<PublicPort>> ports_;  // by Mapping::public_name()
  std::list<std::unique_ptr<PublicPort>> draining_;  // removed by reload, streams still live
  std::list<std::unique_ptr<Tunnel>> tunnels_;       // handshaking and up, oldest first
  std::map<std::string, size_t> round_robin_;        // next pick per tag
  uint64_t held_ids_ = 0;
  ClientPorts client_ports_;  // [CLIENT_PORTS]
  ExposureBook exposures_;    // the ports clients hold, and who
  std::string expose_addr_;   // EXPOSE_ADDR as started (a reload does not move ports)
  EventPtr expose_hold_timer_;  // EXPOSE_HOLD: the next release of an away client's ports
  std::multimap<std::string, Tunnel*> exposure_claims_;  // route -> channels that asked for it
  std::mt19937 rng_{std::random_device{}()};  // picks free ports of a grant
  EventPtr drain_tick_;                        // shutdown: polls until streams are gone
  std::function<void()> shutdown_done_;
  int64_t shutdown_deadline_ms_ = 0;
};
