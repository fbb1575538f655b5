// forward-server --init, the part without I/O: what a configuration's
// [DEFAULT] section already sets, what --init must make and add for it, the
// text with the added lines, and the client command it prints. Lines are
// read as config.cc reads them (section and key names in any case, ';' and
// '#' comment lines, inline comments after " ;"), without validating.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

struct ConfigScan {
  bool has_defaults = false;                    // a [DEFAULT] header
  std::map<std::string, std::string> defaults;  // KEY (upper case) -> value; the last one wins
  bool has_clients = false;                     // [CLIENTS] names a key file (NAME = FILE)
};

// What text's [DEFAULT] section sets.
ConfigScan scan_config(const std::string& text);

struct ConfigLine {
  std::string key, value;
};

// text with one "KEY = VALUE" line per entry of add, after a comment line
// saying --init added them, placed after the last KEY = VALUE line of the
// first [DEFAULT] section (after its header if it has none); without a
// [DEFAULT] section, one is put first. Every other byte is kept; the new
// lines end as the line before them does (CRLF or LF).
std::string add_default_lines(const std::string& text, const std::vector<ConfigLine>& add);

// What --init makes for a configuration, from what it sets. File names are
// as the configuration writes them (relative to its folder) or --init's
// defaults: secret.key, server.crt, server.key.
struct InitPlan {
  bool auth_none = false;        // AUTH = none: no key is made or needed
  bool clients_only = false;     // [CLIENTS] keys and no AUTH_KEY_FILE: no shared key is added
  std::string key_file;          // the shared key; "" when auth_none or clients_only
  std::string cert_file;         // TLS_CERT
  std::string cert_key_file;     // TLS_KEY
  bool mutual_tls = false;       // TLS_CLIENT_CA is set: clients need a certificate too
  std::vector<ConfigLine> add;   // lines the configuration lacks, in this order:
                                 // TLS_CERT, TLS_KEY, AUTH_KEY_FILE
  uint16_t inner_port = 1111;
  std::string inner_addr;        // INNER_ADDR as written ("" when not set)
};

// false with err when INNER_PORT is not a port, or a file key is empty.
bool plan_init(const ConfigScan& scan, InitPlan& out, std::string& err);

// The host clients dial: INNER_ADDR when it names one address (clients can
// reach no other), else host_name.
std::string client_host(const std::string& inner_addr, const std::string& host_name);

// "forward-client --key-file client.key --fingerprint SHA256:AB:... HOST PORT"
// (--no-auth for AUTH = none; --name NAME --key-file NAME.key for
// [CLIENTS] keys only).
std::string client_command(const InitPlan& plan, const std::string& host,
                           const std::string& fingerprint);
