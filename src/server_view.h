// What forward-server shows an operator (forward-ctl status, mappings,
// clients, streams): plain rows copied out of the live objects, so that
// formatting them (control_commands.*) needs no access to the objects and
// can be unit-tested. No addresses of public peers leave the daemon except
// in the streams rows, which the operator asks for one by one.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "metrics_text.h"

struct MappingRow {
  std::string name;    // public address: "0.0.0.0:1234", "[::1]:53/udp"
  std::string target;  // "192.168.10.5:22"
  std::string tag;
  std::string proto;   // "tcp" or "udp"
  std::string state;   // "listening", "draining"
  std::string origin;  // "file:line" where it is defined
  size_t live = 0;     // streams, or UDP sessions
  // Totals since the port was bound (traffic_counters.h); kept across
  // reloads that keep the mapping's public address.
  uint64_t connections = 0;
  uint64_t bytes_in = 0;   // from public peers
  uint64_t bytes_out = 0;  // to public peers
  std::map<std::string, uint64_t> rejected = {};     // by reason
  std::map<std::string, uint64_t> udp_dropped = {};  // UDP datagrams dropped, by reason
  // TCP: the targets' connect times the client reported (OPEN_OK).
  metrics::Histogram connect_seconds{metrics::latency_buckets()};
};

struct ClientRow {
  std::string name;     // "" without a [CLIENTS] name
  std::string tag;
  std::string peer;     // "203.0.113.7:40112"
  std::string session;  // hex prefix
  std::string tls;      // "TLSv1.3 TLS_AES_128_GCM_SHA256", "" on plain channels
  int64_t up_since = 0;  // seconds since the epoch
  int64_t rtt_ms = -1;   // last PING's round trip; -1: not measured yet
  size_t streams = 0;
  size_t udp_sessions = 0;
  uint64_t bytes_in = 0;   // from the client (DATA payload)
  uint64_t bytes_out = 0;  // to the client
};

struct StreamRow {
  uint32_t id = 0;
  std::string mapping;  // MappingRow::name
  std::string peer;     // the public peer
  std::string client;   // ClientRow::peer of its channel
  uint64_t bytes_in = 0;   // from the public peer
  uint64_t bytes_out = 0;  // to the public peer
  double age_sec = 0;
};

struct ServerView {
  std::string version;
  std::string config_path;
  int64_t started = 0;      // seconds since the epoch
  int64_t last_reload = 0;  // 0: none yet
  bool last_reload_ok = true;
  // For metrics: reloads by outcome, the last good one (start counts as one).
  uint64_t reloads_ok = 0, reloads_failed = 0;
  int64_t last_reload_success = 0;
  // Channels by how their handshake ended.
  uint64_t sessions_accepted = 0, sessions_refused = 0, sessions_failed = 0;
  size_t channels = 0, handshakes = 0, streams = 0, udp_sessions = 0, held = 0;
  std::vector<MappingRow> mappings;
  std::vector<ClientRow> clients;
  std::vector<StreamRow> streams_rows;  // filled only when asked for
};
