// What forward-client is told on its command line (client_args.*), shared
// by the client and each of its server links.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "access.h"
#include "auth.h"
#include "expose_spec.h"
#include "tls.h"

// One forward-server to keep a channel to: its host (a name is resolved
// again on every attempt) and INNER_PORT.
struct ServerAddress {
  std::string host;
  uint16_t port = 0;
  bool operator==(const ServerAddress& o) const { return host == o.host && port == o.port; }
};

struct ClientOptions {
  // SERVER_HOST SERVER_PORT, repeatable, or --server HOST:PORT: one channel
  // to each, each with its own back-off, heartbeats and session.
  std::vector<ServerAddress> servers;
  int retry_min_sec = 1;          // --retry-delay: first wait before reconnecting
  int retry_max_sec = 30;         // --retry-max: the wait doubles up to this
  bool reconnect = true;          // --no-reconnect: exit when the last channel ends
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
  // --expose: public ports asked of every server (EXPOSE), in order; the
  // request id of each is its index + 1.
  std::vector<ExposeSpec> expose;
  // Ask servers for REQUEST lines of their http mappings (someone reads
  // them: the console, or the debug log).
  bool want_requests = false;
};
