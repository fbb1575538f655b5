// forward_server.cfg (and its OUTER_PORTS_FILE) -> ServerConfig.
// Uses inih; no libevent. Every problem is collected as file:line: message,
// so an admin sees all of them at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "access.h"
#include "client_ports.h"
#include "address.h"
#include "log.h"
#include "proxy_header.h"

struct Mapping {
  std::string bind_host;  // IP literal; "" means every address (0.0.0.0)
  uint16_t public_port = 0;
  bool udp = false;       // "5353/udp = ..."; TCP otherwise
  std::string target_host;  // IP literal or DNS name, resolved by the client
  uint16_t target_port = 0;
  std::string file;  // where it was defined, for messages
  int line = 0;
  AccessList access;        // [RULES] ALLOW/DENY (global ones merged in)
  int max_connections = 0;  // [RULES] MAX_CONNECTIONS; 0: unlimited
  // [RULES] limits a client cannot take off (source_limits.h, rate_limit.h).
  uint64_t rate_limit = 0;         // RATE_LIMIT: bytes/s each direction, all streams; 0: none
  int max_connections_per_source = 0;   // MAX_CONNECTIONS_PER_SOURCE: simultaneous; 0: none
  int new_connections_per_source = 0;   // NEW_CONNECTIONS_PER_SOURCE = N/SECONDS: N (0: none)
  int new_connections_window_sec = 0;   // ... SECONDS
  std::string tag = "default";  // [TAG]: only clients with this --tag serve it
  bool runtime = false;  // from STATE_FILE (forward-ctl add), not the configuration
  // [RULES] PROXY_PROTOCOL: the client sends the target this header first.
  proxy::Version proxy_protocol = proxy::Version::off;
  // [MODE] PORT = http (or forward-client --expose http:...): the server
  // logs one line per HTTP/1.x request; the bytes are forwarded unchanged.
  bool http = false;
  // forward-client --expose: the client that holds the port ("client
  // NAME" or "session HEX"); "" for the configuration's mappings. Its
  // streams go only to that client's channels (tag is the same text, which
  // no --tag can be: it has a space).
  std::string exposed_by;

  // Same listening address, target, rules and tag.
  bool same_as(const Mapping& o) const;

  std::string public_name() const;  // "0.0.0.0:1234", "[::1]:22", "0.0.0.0:53/udp"
  std::string target_name() const;  // "192.168.10.5:22"
  // The limits and PROXY_PROTOCOL set, for log lines: ", max connections
  // 5, rate limit 2M/s, 10 per source, 30 new per source in 60 s, PROXY
  // v2, http log"; "" without any.
  std::string limits_text() const;
};

// A file named by a key; path is resolved relative to the config's folder,
// file:line say where it was named (for messages about its contents).
struct FileRef {
  std::string path;
  std::string file;
  int line = 0;
  bool empty() const { return path.empty(); }
  std::string where() const { return file + ":" + std::to_string(line); }
};

// A [RULES] or [TAG] line, applied once every mapping is known (and to a
// mapping forward-ctl adds later).
struct MappingRule {
  std::string target;  // "" for every mapping, else the public key ("1234", "127.0.0.1:80")
  std::string kind;    // ALLOW, DENY, MAX_CONNECTIONS, ... (kRuleKinds), TAG (upper case)
  std::string value;
  std::string file;
  int line = 0;
};

struct ConfigError {
  std::string file;
  int line = 0;  // 0 when the problem is the file as a whole
  std::string message;
  std::string str() const;  // "file:line: message" or "file: message"
};

// A STATE_FILE mapping that is not listened on because a mapping of the
// configuration (or INNER_PORT) takes its address: it stays in the state
// file until forward-ctl remove drops it.
struct ShadowedMapping {
  Mapping mapping;  // as in the state file (file, line, tag)
  std::string why;  // "the configuration maps 0.0.0.0:1234 at FILE:LINE"
  // "STATE:LINE: runtime mapping 0.0.0.0:1234 -> ... is not listened on: WHY (...)"
  std::string str() const;
};

struct ServerConfig {
  std::string path;
  uint16_t inner_port = 1111;
  std::string inner_addr = "0.0.0.0";
  std::string outer_ports_file;  // as resolved (relative to path's folder)
  LogLevel log_level = LogLevel::info;
  std::vector<Mapping> mappings;

  // Security (issue 3).
  bool auth_none = false;                               // AUTH = none
  FileRef auth_key_file;                                // AUTH_KEY_FILE
  std::vector<std::pair<std::string, FileRef>> clients;  // [CLIENTS] name = key file
  std::map<std::string, std::vector<std::string>> client_tags;  // [CLIENTS] NAME.TAGS
  std::map<std::string, uint64_t> client_rate_limits;  // [CLIENTS] NAME.RATE_LIMIT: bytes/s
  FileRef tls_cert, tls_key, tls_client_ca;             // TLS_CERT, TLS_KEY, TLS_CLIENT_CA
  std::string user, group;                              // USER, GROUP: drop privileges to these
  int group_line = 0;                                   // line of GROUP, for messages
  int handshake_timeout_sec = 5;                        // HANDSHAKE_TIMEOUT
  int max_handshakes = 64;                              // MAX_HANDSHAKES
  int max_streams_per_client = 10000;                   // MAX_STREAMS_PER_CLIENT
  int max_channels_per_client = 4;                      // MAX_CHANNELS_PER_CLIENT: per [CLIENTS] name
  int max_channels_per_shared_key = 64;                 // MAX_CHANNELS_PER_SHARED_KEY
  int max_handshakes_per_source = 16;                   // MAX_HANDSHAKES_PER_SOURCE: per address
  int open_timeout_sec = 10;                            // OPEN_TIMEOUT: OPEN without an answer
  uint64_t max_buffered_bytes = 256ull << 20;           // MAX_BUFFERED_BYTES: all streams' queues

  // Operations (issue 4).
  int heartbeat_interval_sec = 10;  // HEARTBEAT_INTERVAL; dead after 3 missed; 0: off
  int client_wait_sec = 5;          // CLIENT_WAIT: hold public connections for a client
  int drain_timeout_sec = 10;       // DRAIN_TIMEOUT: bound on draining at stop and removal
  std::string pid_file;             // PID_FILE
  // CONTROL_SOCKET (forward-ctl); "" = none.
  std::string control_socket = "/run/tcp-forward/control.sock";
  // METRICS_LISTEN (metrics_http.h): an IP literal and port; port 0: off.
  std::string metrics_host;
  uint16_t metrics_port = 0;
  std::vector<Cidr> metrics_allow;  // METRICS_ALLOW; empty: loopback only
  // STATE_FILE: forward-ctl add/remove keep their mappings here; "" = none.
  std::string state_file = "/var/lib/tcp-forward/runtime.cfg";
  int state_file_line = 0;  // where STATE_FILE was set; 0: the default
  // Every mapping of the state file, in its order, as written there (tag,
  // no rules). Those that do not clash with the configuration's mappings
  // are in mappings too (runtime = true, rules applied); the others are in
  // shadowed, one line each saying why they are not listened on.
  std::vector<Mapping> runtime_entries;
  std::vector<ShadowedMapping> shadowed;
  // [RULES] and [TAG] lines of the configuration, for mappings added later.
  std::vector<MappingRule> rules;

  // UDP mappings (issue 5).
  int udp_timeout_sec = 60;      // UDP_TIMEOUT: a session ends after this long idle
  int udp_max_sessions = 1024;   // UDP_MAX_SESSIONS: per mapping
  int udp_max_datagram = 65507;  // UDP_MAX_DATAGRAM: larger ones are dropped and counted

  // forward-client --expose (issue 17).
  std::vector<PortGrant> client_ports;  // [CLIENT_PORTS]
  int expose_hold_sec = 300;            // EXPOSE_HOLD: ports kept for a client that went away
  std::string expose_addr;              // EXPOSE_ADDR: where exposed ports listen; "": 0.0.0.0
};

// Splits "1234/udp" / "1234/tcp" into "1234" and the protocol; false if the
// suffix is something else.
bool split_protocol(const std::string& key, std::string& rest, bool& udp);

// A public key as [RULES] and [TAG] lines and /ready?mapping= write it:
// "1234", "1234/udp", "127.0.0.1:1234", "[::1]:53/udp". Without an address
// it names the port on every address; with one, only that address.
struct PublicKey {
  HostPort pub;
  bool udp = false;
  bool names(const Mapping& m) const;
};
// false with err (a bad protocol or host:port).
bool parse_public_key(const std::string& key, PublicKey& out, std::string& err);

// Reads a whole file; false with err (strerror text) on failure.
using FileReader = std::function<bool(const std::string& path, std::string& text, std::string& err)>;
bool read_file(const std::string& path, std::string& text, std::string& err);

// True when a and b cannot both listen: same port and protocol, same
// address family, and one is the wildcard or both are the same address.
bool mappings_overlap(const Mapping& a, const Mapping& b);

// Parses the text of a file that holds mappings only ([MAPPER] and [TAG]
// sections, the syntax of the configuration; STATE_FILE): its mappings,
// tags applied, in out. false with every problem in errors.
bool parse_mapping_text(const std::string& file, const std::string& text, std::vector<Mapping>& out,
                        std::vector<ConfigError>& errors);

// Applies the configuration's ALLOW, DENY and MAX_CONNECTIONS rules that
// name m's public address (or every mapping) to m, as at load.
void apply_config_rules(const ServerConfig& cfg, Mapping& m);
// Every [RULES] kind (ALLOW, DENY, MAX_CONNECTIONS, RATE_LIMIT, the per-source
// limits, PROXY_PROTOCOL) that names m's port or every mapping: an exposed port.
void apply_all_config_rules(const ServerConfig& cfg, Mapping& m);

// Loads and validates path (and OUTER_PORTS_FILE). Returns true when no
// errors were found; otherwise errors holds every problem.
bool load_server_config(const std::string& path, ServerConfig& out,
                        std::vector<ConfigError>& errors, const FileReader& reader = read_file);
