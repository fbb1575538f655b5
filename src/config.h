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
  std::string tag = "default";  // [TAG]: only clients with this --tag serve it
  // [RULES] PROXY_PROTOCOL: the client sends the target this header first.
  proxy::Version proxy_protocol = proxy::Version::off;

  // Same listening address, target, rules and tag.
  bool same_as(const Mapping& o) const;

  std::string public_name() const;  // "0.0.0.0:1234", "[::1]:22", "0.0.0.0:53/udp"
  std::string target_name() const;  // "192.168.10.5:22"
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

  // UDP mappings (issue 5).
  int udp_timeout_sec = 60;      // UDP_TIMEOUT: a session ends after this long idle
  int udp_max_sessions = 1024;   // UDP_MAX_SESSIONS: per mapping
  int udp_max_datagram = 65507;  // UDP_MAX_DATAGRAM: larger ones are dropped and counted
};

// Splits "1234/udp" / "1234/tcp" into "1234" and the protocol; false if the
// suffix is something else.
bool split_protocol(const std::string& key, std::string& rest, bool& udp);

struct ConfigError {
  std::string file;
  int line = 0;  // 0 when the problem is the file as a whole
  std::string message;
  std::string str() const;  // "file:line: message" or "file: message"
};

// Reads a whole file; false with err (strerror text) on failure.
using FileReader = std::function<bool(const std::string& path, std::string& text, std::string& err)>;
bool read_file(const std::string& path, std::string& text, std::string& err);

// Loads and validates path (and OUTER_PORTS_FILE). Returns true when no
// errors were found; otherwise errors holds every problem.
bool load_server_config(const std::string& path, ServerConfig& out,
                        std::vector<ConfigError>& errors, const FileReader& reader = read_file);
