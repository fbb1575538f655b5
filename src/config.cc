#include "config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>
#include <strings.h>

#include <ini.h>

#include "address.h"
#include "frame.h"
#include "ini_text.h"
#include "names.h"

namespace {

// inih treats ':' as a key/value delimiter and a leading '[' as a section
// header, but mapping keys such as "127.0.0.1:80" and "[::1]:22" need both.
// The line reader below escapes them inside keys and the handler undoes it.
constexpr char kEscColon = '\x01';
constexpr char kEscBracket = '\x02';
constexpr size_t kMaxLine = 190;  // below inih's 200-byte line buffer

enum class Section { none, defaults, mapper, clients, rules, tags, modes, client_ports, invalid };

using RuleEntry = MappingRule;

struct ParseState {
  std::string file;
  bool is_ports_file = false;
  bool is_state_file = false;  // STATE_FILE: [MAPPER] and [TAG] only
  const std::string* text = nullptr;
  size_t pos = 0;
  int line = 0;
  Section section = Section::none;
  ServerConfig* config = nullptr;
  std::vector<ConfigError>* errors = nullptr;
  bool saw_outer_ports_file = false;
  int outer_ports_line = 0;
  std::vector<RuleEntry>* rules = nullptr;
  std::vector<ConfigError>* client_tag_lines = nullptr;  // NAME.TAGS: where, to check NAME later

  void error(const std::string& msg) { errors->push_back({file, line, msg}); }
};


Section section_for(const std::string& name, bool ports_file) {
  if (strcasecmp(name.c_str(), "MAPPER") == 0) return Section::mapper;
  if (strcasecmp(name.c_str(), "RULES") == 0) return Section::rules;
  if (strcasecmp(name.c_str(), "TAG") == 0) return Section::tags;
  if (ports_file) return Section::invalid;
  if (strcasecmp(name.c_str(), "DEFAULT") == 0) return Section::defaults;
  if (strcasecmp(name.c_str(), "CLIENTS") == 0) return Section::clients;
  if (strcasecmp(name.c_str(), "MODE") == 0) return Section::modes;
  if (strcasecmp(name.c_str(), "CLIENT_PORTS") == 0) return Section::client_ports;
  return Section::invalid;
}

// Examines one raw line: validates section headers and syntax, and rewrites
// the line into what inih should see. Returns the rewritten line.
std::string preprocess_line(ParseState& st, std::string line) {
  if (line.size() > kMaxLine) {
    st.error("line too long (more than " + std::to_string(kMaxLine) + " characters)");
    return "";
  }
  std::string t = ini_trim(line);
  if (t.empty() || t[0] == ';' || t[0] == '#') return line;
  if (t[0] == '[') {
    size_t close = t.find(']');
    std::string after = close == std::string::npos ? "" : ini_trim(ini_strip_comment(t.substr(close + 1)));
    if (close != std::string::npos && after.empty()) {
      std::string name = ini_trim(t.substr(1, close - 1));
      st.section = section_for(name, st.is_ports_file);
      if (st.is_state_file && st.section == Section::rules) {
        st.section = Section::invalid;
        st.error("[RULES] in a state file: rules belong in the configuration");
      } else if (st.section == Section::invalid) {
        st.error("unknown section [" + name + "]" +
                 (st.is_state_file ? " (a state file holds [MAPPER] and [TAG] only)"
                  : st.is_ports_file ? " (a ports file holds [MAPPER], [TAG] and [RULES] only)"
                                     : " (expected [DEFAULT], [MAPPER], [TAG], [CLIENTS], [CLIENT_PORTS], [RULES] or [MODE])"));
      }
      return line;
    }
    // "[v6]:port = target": a key, not a section header.
    if (close != std::string::npos && after[0] == ':' && after.find('=') != std::string::npos) {
      t[0] = kEscBracket;
    } else {
      st.error("malformed section header or key: '" + printable(t, 60) + "'");
      return "";
    }
  }
  size_t eq = t.find('=');
  if (eq == std::string::npos) {
    st.error("expected KEY = VALUE, got '" + printable(t, 60) + "'");
    return "";
  }
  // inih's rule: '#' starts a comment only at the start of a line. Say so
  // rather than report "22 # ssh" as a bad port.
  std::string value = ini_strip_comment(t.substr(eq + 1));
  for (size_t i = 1; i < value.size(); ++i)
    if (value[i] == '#' && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      st.error("'#' after a value: inline comments start with ' ;' ('#' only at the start of "
               "a line): '" + printable(t, 60) + "'");
      return "";
    }
  for (size_t i = 0; i < eq; ++i)
    if (t[i] == ':') t[i] = kEscColon;
  // Values may hold ':' freely: inih splits at the first delimiter only.
  return t;
}

char* read_line(char* str, int num, void* stream) {
  auto* st = static_cast<ParseState*>(stream);
  if (st->pos >= st->text->size()) return nullptr;
  size_t end = st->text->find('\n', st->pos);
  size_t next = end == std::string::npos ? st->text->size() : end + 1;
  std::string raw = st->text->substr(st->pos, (end == std::string::npos ? st->text->size() : end) - st->pos);
  st->pos = next;
  ++st->line;
  // A UTF-8 byte-order mark some editors write; inih would skip it too.
  if (st->line == 1 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
  std::string line = preprocess_line(*st, raw);
  size_t n = std::min(line.size(), static_cast<size_t>(num) - 2);
  memcpy(str, line.data(), n);
  str[n] = '\n';
  str[n + 1] = '\0';
  return str;
}

std::string unescape(const char* s) {
  std::string out(s);
  for (char& c : out) {
    if (c == kEscColon) c = ':';
    if (c == kEscBracket) c = '[';
  }
  return out;
}

void add_mapping(ParseState& st, const std::string& full_key, const std::string& value) {
  HostPort pub, target;
  std::string err, key;
  bool udp = false;
  if (!split_protocol(full_key, key, udp)) {
    st.error("bad public port '" + printable(full_key, 80) + "': the protocol is /tcp or /udp");
    return;
  }
  if (!parse_host_port(key, false, pub, err)) {
    st.error("bad public port '" + printable(key, 80) + "': " + err);
    return;
  }
  if (!pub.host.empty()) {
    sockaddr_storage ss;
    socklen_t len;
    if (!ip_literal_to_sockaddr(pub.host, pub.port, ss, len)) {
      st.error("bad public address '" + printable(pub.host, 80) +
               "': a bind address must be an IP address");
      return;
    }
  }
  if (value.empty()) {
    st.error("mapping " + key + " has no target (expected HOST:PORT)");
    return;
  }
  if (!parse_host_port(value, true, target, err)) {
    st.error("bad target '" + printable(value, 80) + "' for " + key + ": " + err);
    return;
  }
  Mapping m;
  m.bind_host = pub.host;
  m.public_port = pub.port;
  m.udp = udp;
  m.target_host = target.host;
  m.target_port = target.port;
  m.file = st.file;
  m.line = st.line;
  st.config->mappings.push_back(m);
}

std::string dir_of(const std::string& path);

std::string resolve(const std::string& config_path, const std::string& name) {
  if (name.empty() || name[0] == '/') return name;
  std::string dir = dir_of(config_path);
  return (dir == "/" ? dir : dir + "/") + name;
}

bool parse_int(const std::string& text, int lo, int hi, int& out) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int v = std::stoi(text);
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

// "268435456", "256M", "1G" (binary multiples).
bool parse_size(const std::string& text, uint64_t lo, uint64_t hi, uint64_t& out) {
  std::string digits = text;
  uint64_t mult = 1;
  if (!digits.empty()) {
    switch (toupper(static_cast<unsigned char>(digits.back()))) {
      case 'K': mult = 1ull << 10; break;
      case 'M': mult = 1ull << 20; break;
      case 'G': mult = 1ull << 30; break;
      case 'T': mult = 1ull << 40; break;
    }
    if (mult != 1) digits.pop_back();
  }
  if (digits.empty() || digits.size() > 13 || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  uint64_t v = std::stoull(digits) * mult;
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

bool is_valid_user_name(const std::string& v) {
  if (v.empty() || v.size() > 32) return false;
  for (char c : v)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  return true;
}

// The [RULES] keys, each alone (every mapping) or after PUBLIC.
const char* const kRuleKinds[] = {"ALLOW", "DENY", "MAX_CONNECTIONS", "RATE_LIMIT",
                                  "MAX_CONNECTIONS_PER_SOURCE", "NEW_CONNECTIONS_PER_SOURCE",
                                  "PROXY_PROTOCOL"};

// [RULES]: "ALLOW = cidr...", "1234.DENY = cidr...", "127.0.0.1:80.MAX_CONNECTIONS = 10".
void add_rule(ParseState& st, const std::string& key, const std::string& value) {
  size_t dot = key.rfind('.');
  std::string kind = dot == std::string::npos ? key : key.substr(dot + 1);
  std::string target = dot == std::string::npos ? "" : key.substr(0, dot);
  for (char& c : kind) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  bool known = false;
  std::string expected;
  for (const char* k : kRuleKinds) {
    known = known || kind == k;
    expected += std::string(expected.empty() ? "" : ", ") + "[PUBLIC.]" + k;
  }
  if (!known) {
    st.error("unknown rule '" + printable(key, 80) + "' (expected " + expected + ")");
    return;
  }
  st.rules->push_back(RuleEntry{target, kind, value, st.file, st.line});
}

// "alice.TAGS = site-b, db": the tags client alice may serve.
void add_client_tags(ParseState& st, const std::string& name, const std::string& value) {
  std::vector<std::string> tags;
  std::string cur;
  for (size_t i = 0; i <= value.size(); ++i) {
    char c = i < value.size() ? value[i] : ',';
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) tags.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (tags.empty()) {
    st.error(name + ".TAGS: expected one or more tags, separated by commas");
    return;
  }
  for (const auto& t : tags)
    if (!valid_name(t)) {
      st.error(name + ".TAGS: bad tag '" + printable(t, 80) + "' (" + kNameRule + ")");
      return;
    }
  if (st.config->client_tags.count(name)) {
    st.error(name + ".TAGS is given twice");
    return;
  }
  st.config->client_tags[name] = tags;
  st.client_tag_lines->push_back(ConfigError{st.file, st.line, name + ".TAGS"});
}

// "alice.RATE_LIMIT = 10M": bytes per second each way, all of alice's
// streams together.
void add_client_rate_limit(ParseState& st, const std::string& name, const std::string& value) {
  uint64_t rate = 0;
  if (!parse_size(value, 1024, 1ull << 40, rate)) {
    st.error(name + ".RATE_LIMIT: bad value: '" + printable(value, 80) +
             "' (expected bytes per second, at least 1K, with a K, M or G suffix: 10M)");
    return;
  }
  if (!st.config->client_rate_limits.emplace(name, rate).second) {
    st.error(name + ".RATE_LIMIT is given twice");
    return;
  }
  st.client_tag_lines->push_back(ConfigError{st.file, st.line, name + ".RATE_LIMIT"});
}

void add_client(ParseState& st, const std::string& key, const std::string& value) {
  size_t dot = key.rfind('.');
  if (dot != std::string::npos && strcasecmp(key.c_str() + dot + 1, "TAGS") == 0) {
    add_client_tags(st, key.substr(0, dot), value);
    return;
  }
  if (dot != std::string::npos && strcasecmp(key.c_str() + dot + 1, "RATE_LIMIT") == 0) {
    add_client_rate_limit(st, key.substr(0, dot), value);
    return;
  }
  const std::string& name = key;
  if (!valid_name(name)) {
    st.error("client name '" + printable(name, 80) + "': expected " + kNameRule);
    return;
  }
  if (value.empty()) {
    st.error("client " + name + ": expected a key file");
    return;
  }
  for (const auto& c : st.config->clients)
    if (c.first == name) {
      st.error("client " + name + " is already defined at " + c.second.where());
      return;
    }
  st.config->clients.push_back({name, FileRef{resolve(st.config->path, value), st.file, st.line}});
}

// [CLIENT_PORTS]: "NAME = 20000-20099, 5353/udp", "tag:TAG = ...",
// "NAME.MAX_PORTS = 5". A NAME is checked against [CLIENTS] at the end.
PortGrant* find_grant(ServerConfig& c, const std::string& key) {
  for (PortGrant& g : c.client_ports)
    if (g.key == key) return &g;
  return nullptr;
}

void add_client_ports(ParseState& st, const std::string& key, const std::string& value) {
  size_t dot = key.rfind('.');
  bool max = dot != std::string::npos && strcasecmp(key.c_str() + dot + 1, "MAX_PORTS") == 0;
  std::string who = max ? key.substr(0, dot) : key;
  std::string name = who.compare(0, 4, "tag:") == 0 ? who.substr(4) : who;
  if (!valid_name(name) || name.find('.') != std::string::npos) {
    st.error("[CLIENT_PORTS] key '" + printable(key, 80) +
             "': expected a [CLIENTS] name or tag:TAG (" + kNameRule + ", no dots), with an "
             "optional .MAX_PORTS");
    return;
  }
  PortGrant* g = find_grant(*st.config, who);
  if (max) {
    int n = 0;
    if (g && g->max_ports) {
      st.error(who + ".MAX_PORTS is given twice");
    } else if (!parse_int(value, 1, 65535, n)) {
      st.error(who + ".MAX_PORTS: bad value: '" + printable(value, 80) + "' (expected a number, 1-65535)");
    } else {
      if (!g) {
        st.config->client_ports.push_back(PortGrant{who, {}, 0, st.file, st.line});
        g = &st.config->client_ports.back();
      }
      g->max_ports = n;
    }
    return;
  }
  if (g && !g->ranges.empty()) {
    st.error("[CLIENT_PORTS] " + who + " is already granted at " + g->file + ":" +
             std::to_string(g->line));
    return;
  }
  std::vector<PortRange> ranges;
  std::string err;
  if (!parse_port_ranges(value, ranges, err)) {
    st.error("[CLIENT_PORTS] " + who + ": " + err);
    return;
  }
  if (!g) {
    st.config->client_ports.push_back(PortGrant{who, {}, 0, st.file, st.line});
    g = &st.config->client_ports.back();
  }
  g->ranges = std::move(ranges);
  g->file = st.file;
  g->line = st.line;
}

void set_default(ParseState& st, const std::string& key, const std::string& value) {
  ServerConfig& c = *st.config;
  auto bad = [&](const std::string& why) {
    st.error(key + ": bad value: '" + printable(value, 80) + "' (" + why + ")");
  };
  auto file_ref = [&](FileRef& ref) {
    if (value.empty())
      bad("expected a file name");
    else
      ref = FileRef{resolve(c.path, value), st.file, st.line};
  };
  auto is = [&](const char* name) { return strcasecmp(key.c_str(), name) == 0; };
  if (is("AUTH")) {
    if (strcasecmp(value.c_str(), "none") == 0)
      c.auth_none = true;
    else if (strcasecmp(value.c_str(), "key") == 0)
      c.auth_none = false;
    else
      bad("expected 'key' or 'none'");
  } else if (is("AUTH_KEY_FILE")) {
    file_ref(c.auth_key_file);
  } else if (is("TLS_CERT")) {
    file_ref(c.tls_cert);
  } else if (is("TLS_KEY")) {
    file_ref(c.tls_key);
  } else if (is("TLS_CLIENT_CA")) {
    file_ref(c.tls_client_ca);
  } else if (is("USER")) {
    if (is_valid_user_name(value)) c.user = value; else bad("expected a user name");
  } else if (is("GROUP")) {
    if (is_valid_user_name(value)) c.group = value; else bad("expected a group name");
    c.group_line = st.line;
  } else if (is("HANDSHAKE_TIMEOUT")) {
    if (!parse_int(value, 1, 300, c.handshake_timeout_sec)) bad("expected seconds, 1-300");
  } else if (is("MAX_HANDSHAKES")) {
    if (!parse_int(value, 1, 100000, c.max_handshakes)) bad("expected a number, 1-100000");
  } else if (is("HEARTBEAT_INTERVAL")) {
    if (!parse_int(value, 0, 3600, c.heartbeat_interval_sec)) bad("expected seconds, 0-3600 (0: off)");
  } else if (is("CLIENT_WAIT")) {
    if (!parse_int(value, 0, 3600, c.client_wait_sec)) bad("expected seconds, 0-3600");
  } else if (is("EXPOSE_HOLD")) {
    if (!parse_int(value, 0, 86400, c.expose_hold_sec)) bad("expected seconds, 0-86400");
  } else if (is("EXPOSE_ADDR")) {
    sockaddr_storage ss;
    socklen_t len;
    if (!ip_literal_to_sockaddr(value, 1, ss, len))
      bad("expected an IPv4 or IPv6 address");
    else
      c.expose_addr = value;
  } else if (is("DRAIN_TIMEOUT")) {
    if (!parse_int(value, 0, 86400, c.drain_timeout_sec)) bad("expected seconds, 0-86400");
  } else if (is("CONTROL_SOCKET")) {
    if (value.empty())
      bad("expected a socket path, or none");
    else
      c.control_socket = strcasecmp(value.c_str(), "none") == 0 ? "" : resolve(c.path, value);
  } else if (is("METRICS_LISTEN")) {
    HostPort hp;
    std::string why;
    sockaddr_storage ss;
    socklen_t len;
    if (strcasecmp(value.c_str(), "none") == 0) {
      c.metrics_host.clear();
      c.metrics_port = 0;
    } else if (!parse_host_port(value, true, hp, why) ||
               !ip_literal_to_sockaddr(hp.host, hp.port, ss, len)) {
      bad("expected ADDRESS:PORT with an IP address, e.g. 127.0.0.1:9712, or none");
    } else {
      c.metrics_host = hp.host;
      c.metrics_port = hp.port;
    }
  } else if (is("METRICS_ALLOW")) {
    std::vector<std::string> why;
    c.metrics_allow.clear();
    if (!parse_cidr_list(value, c.metrics_allow, why) || c.metrics_allow.empty())
      bad(why.empty() ? "expected addresses or networks, e.g. 127.0.0.1/32 10.0.0.0/8" : why.front());
  } else if (is("STATE_FILE")) {
    if (value.empty())
      bad("expected a file name, or none");
    else
      c.state_file = strcasecmp(value.c_str(), "none") == 0 ? "" : resolve(c.path, value);
    c.state_file_line = st.line;
  } else if (is("PID_FILE")) {
    if (value.empty()) bad("expected a file name"); else c.pid_file = resolve(c.path, value);
  } else if (is("UDP_TIMEOUT")) {
    if (!parse_int(value, 1, 86400, c.udp_timeout_sec)) bad("expected seconds, 1-86400");
  } else if (is("UDP_MAX_SESSIONS")) {
    if (!parse_int(value, 1, 1000000, c.udp_max_sessions)) bad("expected a number, 1-1000000");
  } else if (is("UDP_MAX_DATAGRAM")) {
    if (!parse_int(value, 1, 65507, c.udp_max_datagram)) bad("expected bytes, 1-65507");
  } else if (is("MAX_CHANNELS_PER_CLIENT")) {
    if (!parse_int(value, 1, 100000, c.max_channels_per_client)) bad("expected a number, 1-100000");
  } else if (is("MAX_CHANNELS_PER_SHARED_KEY")) {
    if (!parse_int(value, 1, 100000, c.max_channels_per_shared_key)) bad("expected a number, 1-100000");
  } else if (is("MAX_HANDSHAKES_PER_SOURCE")) {
    if (!parse_int(value, 1, 100000, c.max_handshakes_per_source)) bad("expected a number, 1-100000");
  } else if (is("OPEN_TIMEOUT")) {
    if (!parse_int(value, 1, 3600, c.open_timeout_sec)) bad("expected seconds, 1-3600");
  } else if (is("MAX_BUFFERED_BYTES")) {
    if (!parse_size(value, 1ull << 20, 1ull << 40, c.max_buffered_bytes))
      bad("expected bytes, 1M-1T, with an optional K, M, G or T suffix");
  } else if (is("MAX_STREAMS_PER_CLIENT")) {
    if (!parse_int(value, 1, 10000000, c.max_streams_per_client)) bad("expected a number, 1-10000000");
  } else if (strcasecmp(key.c_str(), "INNER_PORT") == 0) {
    if (!parse_port(value, c.inner_port)) bad("expected a port 1-65535");
  } else if (strcasecmp(key.c_str(), "INNER_ADDR") == 0) {
    sockaddr_storage ss;
    socklen_t len;
    if (!ip_literal_to_sockaddr(value, 1, ss, len))
      bad("expected an IPv4 or IPv6 address");
    else
      c.inner_addr = value;
  } else if (strcasecmp(key.c_str(), "OUTER_PORTS_FILE") == 0) {
    if (value.empty()) {
      bad("expected a file name");
    } else {
      c.outer_ports_file = value;
      st.saw_outer_ports_file = true;
      st.outer_ports_line = st.line;
    }
  } else if (strcasecmp(key.c_str(), "LOG_LEVEL") == 0) {
    if (!parse_log_level(value, c.log_level)) bad("expected debug, info, notice, warning or error");
  } else {
    st.error("unknown key '" + printable(key, 80) + "' in [DEFAULT]");
  }
}

int handle(void* user, const char* /*section*/, const char* name, const char* value) {
  auto* st = static_cast<ParseState*>(user);
  std::string key = unescape(name);
  std::string val = value;
  switch (st->section) {
    case Section::defaults: set_default(*st, key, val); break;
    case Section::mapper: add_mapping(*st, key, val); break;
    case Section::clients: add_client(*st, key, val); break;
    case Section::client_ports: add_client_ports(*st, key, val); break;
    case Section::rules: add_rule(*st, key, val); break;
    case Section::tags:
      // "PUBLIC = tag": applied with the rules, once every mapping is known.
      st->rules->push_back(RuleEntry{key, "TAG", val, st->file, st->line});
      break;
    case Section::modes:
      // "PUBLIC = http": applied with the rules too.
      st->rules->push_back(RuleEntry{key, "MODE", val, st->file, st->line});
      break;
    case Section::none:
      if (st->is_ports_file)
        add_mapping(*st, key, val);
      else
        st->error("key '" + printable(key, 80) + "' outside any section (expected [DEFAULT] or [MAPPER])");
      break;
    case Section::invalid: break;  // already reported at the header
  }
  return 1;  // keep parsing: we collect every error ourselves
}

void parse_text(ParseState& st) {
  // Multi-line values would make the handler's line number ambiguous.
  ini_allow_multiline = false;
  int rc = ini_parse_stream(read_line, &st, handle, &st);
  if (rc > 0) {
    // inih found something our pre-check did not; report it at its line.
    bool known = false;
    for (const auto& e : *st.errors)
      if (e.file == st.file && e.line == rc) known = true;
    if (!known) st.errors->push_back({st.file, rc, "syntax error"});
  }
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}


// RATE_LIMIT, MAX_CONNECTIONS_PER_SOURCE, NEW_CONNECTIONS_PER_SOURCE; false
// for other kinds. A per-mapping value wins over the global one, whatever
// the order (the global one fills only what is still unset).
bool apply_limit_rule(const RuleEntry& r, const std::vector<Mapping*>& targets,
                      std::vector<ConfigError>& errors) {
  auto bad = [&](const char* expected) {
    errors.push_back({r.file, r.line, r.kind + ": bad value: '" + printable(r.value, 80) +
                                          "' (expected " + expected + ")"});
  };
  bool global = r.target.empty();
  if (r.kind == "RATE_LIMIT") {
    uint64_t rate = 0;
    if (!parse_size(r.value, 1024, 1ull << 40, rate)) {
      bad("bytes per second, at least 1K, with a K, M or G suffix: 10M");
      return true;
    }
    for (Mapping* m : targets)
      if (!global || m->rate_limit == 0) m->rate_limit = rate;
    return true;
  }
  if (r.kind == "MAX_CONNECTIONS_PER_SOURCE") {
    int n = 0;
    if (!parse_int(r.value, 1, 1000000, n)) {
      bad("a number of connections, 1 to 1000000");
      return true;
    }
    for (Mapping* m : targets)
      if (!global || m->max_connections_per_source == 0) m->max_connections_per_source = n;
    return true;
  }
  if (r.kind == "NEW_CONNECTIONS_PER_SOURCE") {
    size_t slash = r.value.find('/');
    int n = 0, sec = 0;
    if (slash == std::string::npos || !parse_int(ini_trim(r.value.substr(0, slash)), 1, 10000, n) ||
        !parse_int(ini_trim(r.value.substr(slash + 1)), 1, 86400, sec)) {
      bad("N/SECONDS: at most N new connections per source address in any SECONDS, "
          "N 1-10000, SECONDS 1-86400: 30/60");
      return true;
    }
    for (Mapping* m : targets)
      if (!global || m->new_connections_per_source == 0) {
        m->new_connections_per_source = n;
        m->new_connections_window_sec = sec;
      }
    return true;
  }
  return false;
}

void apply_rules(const std::vector<RuleEntry>& rules, ServerConfig& cfg,
                 std::vector<ConfigError>& errors) {
  std::set<const Mapping*> own_proxy;  // a per-port PROXY_PROTOCOL beats the global one
  for (const RuleEntry& r : rules) {
    std::vector<Mapping*> targets;
    if (r.target.empty()) {
      for (Mapping& m : cfg.mappings) targets.push_back(&m);
    } else {
      PublicKey key;
      std::string err;
      if (!parse_public_key(r.target, key, err)) {
        errors.push_back({r.file, r.line, std::string(r.kind == "MODE" ? "mode" : "rule") +
                                              " for bad public port '" + printable(r.target, 80) +
                                              "': " + err});
        continue;
      }
      bool names_file_mapping = false;
      for (Mapping& m : cfg.mappings)
        if (key.names(m)) {
          targets.push_back(&m);
          names_file_mapping = names_file_mapping || !m.runtime;
        }
      // A rule must name a mapping of the configuration: one that only a
      // runtime mapping matches would break the next reload after a remove.
      // ... or a port a [CLIENT_PORTS] grant gives (an exposed port).
      bool granted = false;
      for (const PortGrant& g : cfg.client_ports) granted = granted || g.covers(key.pub.port, key.udp);
      if (!names_file_mapping && granted && targets.empty()) continue;
      if (!names_file_mapping) {
        errors.push_back({r.file, r.line, std::string(r.kind == "MODE" ? "mode" : "rule") +
                                              " for " + r.target + ", which no mapping uses"});
        continue;
      }
    }
    if (r.kind == "TAG") {
      if (!valid_name(r.value)) {
        errors.push_back({r.file, r.line, "tag for " + r.target + ": bad value: '" +
                                              printable(r.value, 80) + "' (" + kNameRule + ")"});
        continue;
      }
      for (Mapping* m : targets)
        if (!m->runtime) m->tag = r.value;  // a runtime mapping keeps its own tag
      continue;
    }
    if (r.kind == "MODE") {
      bool http = strcasecmp(r.value.c_str(), "http") == 0;
      if (!http && strcasecmp(r.value.c_str(), "tcp") != 0) {
        errors.push_back({r.file, r.line, "mode for " + r.target + ": bad value: '" +
                                              printable(r.value, 80) + "' (expected tcp or http)"});
        continue;
      }
      for (Mapping* m : targets) {
        if (m->udp && http) {
          errors.push_back({r.file, r.line, "mode for " + r.target +
                                                ": http is for TCP mappings, not " + m->public_name()});
          break;
        }
        m->http = http;
      }
      continue;
    }
    if (apply_limit_rule(r, targets, errors)) continue;
    if (r.kind == "PROXY_PROTOCOL") {
      proxy::Version v;
      if (!proxy::parse_version(r.value, v)) {
        errors.push_back({r.file, r.line, r.kind + ": bad value: '" + printable(r.value, 80) +
                                              "' (expected v1, v2 or off)"});
        continue;
      }
      for (Mapping* m : targets) {
        if (r.target.empty() && own_proxy.count(m)) continue;
        if (!r.target.empty()) own_proxy.insert(m);
        // v1 has no datagram form: a global v1 leaves UDP mappings off.
        if (m->udp && v == proxy::Version::v1) {
          if (r.target.empty()) continue;
          errors.push_back({r.file, r.line, r.kind + " for " + m->public_name() +
                                                ": v1 has no datagram form (UDP mappings take v2)"});
          continue;
        }
        m->proxy_protocol = v;
      }
      continue;
    }
    if (r.kind == "MAX_CONNECTIONS") {
      int n = 0;
      if (!parse_int(r.value, 0, 10000000, n)) {
        errors.push_back({r.file, r.line, r.kind + ": bad value: '" + printable(r.value, 80) +
                                              "' (expected a number, 0 for unlimited)"});
        continue;
      }
      // A per-mapping limit wins over the global one, whatever the order.
      for (Mapping* m : targets)
        if (!r.target.empty() || m->max_connections == 0) m->max_connections = n;
      continue;
    }
    std::vector<Cidr> list;
    std::vector<std::string> bad;
    if (!parse_cidr_list(r.value, list, bad)) {
      for (const auto& b : bad) errors.push_back({r.file, r.line, r.kind + ": " + b});
      continue;
    }
    if (list.empty()) {
      errors.push_back({r.file, r.line, r.kind + ": expected one or more addresses or networks"});
      continue;
    }
    for (Mapping* m : targets) {
      auto& dst = r.kind == "ALLOW" ? m->access.allow : m->access.deny;
      dst.insert(dst.end(), list.begin(), list.end());
    }
  }
}

bool overlaps(const Mapping& a, const Mapping& b) { return mappings_overlap(a, b); }

// Every mapping in one list at most once, and none on INNER_PORT. Only
// mappings of the same port can overlap, so each is compared with the
// earlier ones of its port alone (10,000 mappings: linear, not 50 million
// comparisons on every start and reload).
void check_overlaps(const std::vector<Mapping>& mappings, const ServerConfig& cfg,
                    std::vector<ConfigError>& errors) {
  std::unordered_map<uint16_t, std::vector<size_t>> by_port;
  for (size_t i = 0; i < mappings.size(); ++i) {
    const Mapping& m = mappings[i];
    std::vector<size_t>& same_port = by_port[m.public_port];
    for (size_t j : same_port)
      if (overlaps(m, mappings[j])) {
        errors.push_back({m.file, m.line,
                          "public port " + std::to_string(m.public_port) +
                              " is already mapped at " + mappings[j].file + ":" +
                              std::to_string(mappings[j].line)});
        break;
      }
    same_port.push_back(i);
    Mapping inner;
    inner.bind_host = cfg.inner_addr;
    inner.public_port = cfg.inner_port;
    if (overlaps(m, inner))
      errors.push_back({m.file, m.line,
                        "public port " + std::to_string(m.public_port) + " is INNER_PORT"});
  }
}

// STATE_FILE, after the configuration's own mappings: a missing file means
// no runtime mappings; one that does not parse is an error like the
// configuration's. An entry that clashes with a mapping of the
// configuration (the file gained it after forward-ctl add) is kept in the
// state file but not listened on: it goes to cfg.shadowed.
void load_state_file(ServerConfig& cfg, const FileReader& reader, std::vector<ConfigError>& errors) {
  std::string text, err;
  if (!reader(cfg.state_file, text, err)) {
    if (err != strerror(ENOENT))
      errors.push_back({cfg.path, cfg.state_file_line,
                        "STATE_FILE '" + cfg.state_file + "': cannot read: " + err});
    return;
  }
  std::vector<Mapping> entries;
  if (!parse_mapping_text(cfg.state_file, text, entries, errors)) return;
  size_t file_mappings = cfg.mappings.size();
  for (const Mapping& e : entries) {
    const Mapping* clash = nullptr;
    for (size_t i = 0; i < file_mappings && !clash; ++i)
      if (overlaps(e, cfg.mappings[i])) clash = &cfg.mappings[i];
    Mapping inner;
    inner.bind_host = cfg.inner_addr;
    inner.public_port = cfg.inner_port;
    if (clash)
      cfg.shadowed.push_back({e, "the configuration maps " + clash->public_name() + " at " +
                                     clash->file + ":" + std::to_string(clash->line)});
    else if (overlaps(e, inner))
      cfg.shadowed.push_back({e, "it is INNER_PORT"});
    else
      cfg.mappings.push_back(e);
  }
  cfg.runtime_entries = std::move(entries);
}

}  // namespace

bool mappings_overlap(const Mapping& a, const Mapping& b) {
  if (a.public_port != b.public_port || a.udp != b.udp) return false;
  if (address_family(a.bind_host) != address_family(b.bind_host)) return false;
  return is_wildcard(a.bind_host) || is_wildcard(b.bind_host) || same_address(a.bind_host, b.bind_host);
}

bool parse_mapping_text(const std::string& file, const std::string& text, std::vector<Mapping>& out,
                        std::vector<ConfigError>& errors) {
  size_t first_error = errors.size();
  ServerConfig cfg;
  cfg.path = file;
  std::vector<RuleEntry> rules;
  std::vector<ConfigError> client_tag_lines;
  ParseState st;
  st.file = file;
  st.is_ports_file = true;
  st.is_state_file = true;
  st.text = &text;
  st.config = &cfg;
  st.errors = &errors;
  st.rules = &rules;
  st.client_tag_lines = &client_tag_lines;
  parse_text(st);
  for (Mapping& m : cfg.mappings) m.runtime = true;
  for (size_t i = 0; i < cfg.mappings.size(); ++i) {
    const Mapping& m = cfg.mappings[i];
    for (size_t j = 0; j < i; ++j)
      if (overlaps(m, cfg.mappings[j])) {
        errors.push_back({m.file, m.line,
                          "public port " + std::to_string(m.public_port) +
                              " is already mapped at " + cfg.mappings[j].file + ":" +
                              std::to_string(cfg.mappings[j].line)});
        break;
      }
  }
  // Its [TAG] lines name its own mappings: mark them as the file's for the
  // rule pass, which leaves runtime tags alone.
  for (Mapping& m : cfg.mappings) m.runtime = false;
  apply_rules(rules, cfg, errors);
  for (Mapping& m : cfg.mappings) m.runtime = true;
  if (errors.size() != first_error) return false;
  out = std::move(cfg.mappings);
  return true;
}

void apply_config_rules(const ServerConfig& cfg, Mapping& m) {
  ServerConfig one;
  one.mappings.push_back(m);
  one.mappings.back().runtime = false;  // so that a rule naming it counts as used
  std::vector<RuleEntry> rules;
  for (const RuleEntry& r : cfg.rules) {
    if (r.kind == "TAG") continue;  // a runtime mapping has its own tag
    rules.push_back(r);
  }
  std::vector<ConfigError> ignored;  // rules naming other mappings; reported at load
  apply_rules(rules, one, ignored);
  m.access = one.mappings.back().access;
  m.max_connections = one.mappings.back().max_connections;
}

void apply_all_config_rules(const ServerConfig& cfg, Mapping& m) {
  ServerConfig one;
  one.mappings.push_back(m);
  one.mappings.back().runtime = false;
  std::vector<RuleEntry> rules;
  for (const RuleEntry& r : cfg.rules)
    if (r.kind != "TAG") rules.push_back(r);
  std::vector<ConfigError> ignored;  // reported at load
  apply_rules(rules, one, ignored);
  Mapping& r = one.mappings.back();
  m.access = r.access;
  m.max_connections = r.max_connections;
  m.rate_limit = r.rate_limit;
  m.max_connections_per_source = r.max_connections_per_source;
  m.new_connections_per_source = r.new_connections_per_source;
  m.new_connections_window_sec = r.new_connections_window_sec;
  m.proxy_protocol = r.proxy_protocol;
}

std::string Mapping::public_name() const {
  return format_host_port(bind_host.empty() ? "0.0.0.0" : bind_host, public_port) +
         (udp ? "/udp" : "");
}

bool PublicKey::names(const Mapping& m) const {
  if (m.public_port != pub.port || m.udp != udp) return false;
  return pub.host.empty() || same_address(m.bind_host, pub.host);
}

bool parse_public_key(const std::string& key, PublicKey& out, std::string& err) {
  std::string rest;
  if (!split_protocol(key, rest, out.udp)) {
    err = "bad protocol";
    return false;
  }
  return parse_host_port(rest, false, out.pub, err);
}

bool split_protocol(const std::string& key, std::string& rest, bool& udp) {
  size_t slash = key.rfind('/');
  udp = false;
  if (slash == std::string::npos) {
    rest = key;
    return true;
  }
  std::string proto = key.substr(slash + 1);
  rest = key.substr(0, slash);
  if (strcasecmp(proto.c_str(), "udp") == 0) {
    udp = true;
    return true;
  }
  return strcasecmp(proto.c_str(), "tcp") == 0;
}

std::string Mapping::target_name() const { return format_host_port(target_host, target_port); }

bool Mapping::same_as(const Mapping& o) const {
  return bind_host == o.bind_host && public_port == o.public_port && udp == o.udp &&
         target_host == o.target_host && target_port == o.target_port &&
         access.str() == o.access.str() && max_connections == o.max_connections && tag == o.tag &&
         rate_limit == o.rate_limit && max_connections_per_source == o.max_connections_per_source &&
         new_connections_per_source == o.new_connections_per_source &&
         new_connections_window_sec == o.new_connections_window_sec &&
         proxy_protocol == o.proxy_protocol && http == o.http;
}

std::string Mapping::limits_text() const {
  std::string s;
  if (max_connections) s += ", max connections " + std::to_string(max_connections);
  if (rate_limit) {
    bool mib = rate_limit % (1u << 20) == 0, kib = rate_limit % 1024 == 0;
    s += ", rate limit " +
         (mib ? std::to_string(rate_limit >> 20) + "M"
              : kib ? std::to_string(rate_limit >> 10) + "K" : std::to_string(rate_limit)) +
         "/s";
  }
  if (max_connections_per_source)
    s += ", " + std::to_string(max_connections_per_source) + " per source";
  if (new_connections_per_source)
    s += ", " + std::to_string(new_connections_per_source) + " new per source in " +
         std::to_string(new_connections_window_sec) + " s";
  if (proxy_protocol != proxy::Version::off)
    s += std::string(", PROXY ") + proxy::version_name(proxy_protocol);
  if (http) s += ", http log";
  return s;
}

std::string ShadowedMapping::str() const {
  return mapping.file + ":" + std::to_string(mapping.line) + ": runtime mapping " +
         mapping.public_name() + " -> " + mapping.target_name() + " is not listened on: " + why +
         " (forward-ctl remove " + mapping.public_name() + " drops it)";
}

std::string ConfigError::str() const {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
  return file + ": " + message;
}

bool read_file(const std::string& path, std::string& text, std::string& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    err = strerror(errno);
    return false;
  }
  text = ss.str();
  return true;
}

bool load_server_config(const std::string& path, ServerConfig& out,
                        std::vector<ConfigError>& errors, const FileReader& reader) {
  size_t first_error = errors.size();
  ServerConfig cfg;
  cfg.path = path;
  std::string text, err;
  if (!reader(path, text, err)) {
    errors.push_back({path, 0, "cannot read configuration: " + err});
    return false;
  }
  std::vector<RuleEntry> rules;
  std::vector<ConfigError> client_tag_lines;
  ParseState st;
  st.client_tag_lines = &client_tag_lines;
  st.file = path;
  st.text = &text;
  st.config = &cfg;
  st.errors = &errors;
  st.rules = &rules;
  parse_text(st);

  if (st.saw_outer_ports_file) {
    std::string ports = resolve(path, cfg.outer_ports_file);
    cfg.outer_ports_file = ports;
    std::string ptext;
    if (!reader(ports, ptext, err)) {
      errors.push_back({path, st.outer_ports_line,
                        "OUTER_PORTS_FILE '" + ports + "': cannot read: " + err});
    } else {
      ParseState pst;
      pst.file = ports;
      pst.is_ports_file = true;
      pst.text = &ptext;
      pst.config = &cfg;
      pst.errors = &errors;
      pst.rules = &rules;
      pst.client_tag_lines = &client_tag_lines;
      parse_text(pst);
    }
  }

  check_overlaps(cfg.mappings, cfg, errors);
  if (!cfg.state_file.empty()) load_state_file(cfg, reader, errors);
  apply_rules(rules, cfg, errors);
  cfg.rules = std::move(rules);
  // NAME.TAGS and NAME.RATE_LIMIT lines (message: the key) name a client.
  for (const ConfigError& where : client_tag_lines) {
    std::string name = where.message.substr(0, where.message.rfind('.'));
    bool known = false;
    for (const auto& c : cfg.clients) known = known || c.first == name;
    if (!known)
      errors.push_back({where.file, where.line,
                        where.message + ": no client " + name + " in [CLIENTS]"});
  }
  for (const PortGrant& g : cfg.client_ports) {
    if (g.ranges.empty()) {
      errors.push_back({g.file, g.line, g.key + ".MAX_PORTS without a grant: add '" + g.key +
                                            " = PORTS' to [CLIENT_PORTS]"});
      continue;
    }
    if (g.key.compare(0, 4, "tag:") == 0) continue;
    bool known = false;
    for (const auto& c : cfg.clients) known = known || c.first == g.key;
    if (!known)
      errors.push_back({g.file, g.line, "[CLIENT_PORTS] " + g.key + ": no client " + g.key +
                                            " in [CLIENTS] (a tag is written tag:" + g.key + ")"});
  }
  if (!cfg.auth_none && cfg.auth_key_file.empty() && cfg.clients.empty())
    errors.push_back({path, 0,
                      "no AUTH_KEY_FILE or [CLIENTS] key: set one (make a key with "
                      "'openssl rand -hex 32 > secret.key'), or AUTH = none to run without "
                      "authentication"});
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
    const FileRef& given = cfg.tls_cert.empty() ? cfg.tls_key : cfg.tls_cert;
    errors.push_back({given.file, given.line, "TLS_CERT and TLS_KEY must be given together"});
  }
  if (!cfg.tls_client_ca.empty() && cfg.tls_cert.empty())
    errors.push_back({cfg.tls_client_ca.file, cfg.tls_client_ca.line,
                      "TLS_CLIENT_CA needs TLS_CERT and TLS_KEY"});
  if (!cfg.group.empty() && cfg.user.empty())
    errors.push_back({path, cfg.group_line,
                      "GROUP without USER would keep the daemon running as root; set USER too"});
  if (errors.size() != first_error) return false;
  out = std::move(cfg);
  return true;
}
