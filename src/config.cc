#include "config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <strings.h>

#include <ini.h>

#include "address.h"

namespace {

// inih treats ':' as a key/value delimiter and a leading '[' as a section
// header, but mapping keys such as "127.0.0.1:80" and "[::1]:22" need both.
// The line reader below escapes them inside keys and the handler undoes it.
constexpr char kEscColon = '\x01';
constexpr char kEscBracket = '\x02';
constexpr size_t kMaxLine = 190;  // below inih's 200-byte line buffer

enum class Section { none, defaults, mapper, invalid };

struct ParseState {
  std::string file;
  bool is_ports_file = false;
  const std::string* text = nullptr;
  size_t pos = 0;
  int line = 0;
  Section section = Section::none;
  ServerConfig* config = nullptr;
  std::vector<ConfigError>* errors = nullptr;
  bool saw_outer_ports_file = false;
  int outer_ports_line = 0;

  void error(const std::string& msg) { errors->push_back({file, line, msg}); }
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string strip_comment(const std::string& s) {
  // Same rule as inih: ';' starts an inline comment when preceded by space.
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == ';' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) return s.substr(0, i);
  return s;
}

Section section_for(const std::string& name, bool ports_file) {
  if (strcasecmp(name.c_str(), "MAPPER") == 0) return Section::mapper;
  if (!ports_file && strcasecmp(name.c_str(), "DEFAULT") == 0) return Section::defaults;
  return Section::invalid;
}

// Examines one raw line: validates section headers and syntax, and rewrites
// the line into what inih should see. Returns the rewritten line.
std::string preprocess_line(ParseState& st, std::string line) {
  if (line.size() > kMaxLine) {
    st.error("line too long (more than " + std::to_string(kMaxLine) + " characters)");
    return "";
  }
  std::string t = trim(line);
  if (t.empty() || t[0] == ';' || t[0] == '#') return line;
  if (t[0] == '[') {
    size_t close = t.find(']');
    std::string after = close == std::string::npos ? "" : trim(strip_comment(t.substr(close + 1)));
    if (close != std::string::npos && after.empty()) {
      std::string name = trim(t.substr(1, close - 1));
      st.section = section_for(name, st.is_ports_file);
      if (st.section == Section::invalid)
        st.error("unknown section [" + name + "]" +
                 (st.is_ports_file ? " (a ports file holds [MAPPER] only)"
                                   : " (expected [DEFAULT] or [MAPPER])"));
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

void add_mapping(ParseState& st, const std::string& key, const std::string& value) {
  HostPort pub, target;
  std::string err;
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
  m.target_host = target.host;
  m.target_port = target.port;
  m.file = st.file;
  m.line = st.line;
  st.config->mappings.push_back(m);
}

void set_default(ParseState& st, const std::string& key, const std::string& value) {
  ServerConfig& c = *st.config;
  auto bad = [&](const std::string& why) {
    st.error(key + ": bad value: '" + printable(value, 80) + "' (" + why + ")");
  };
  if (strcasecmp(key.c_str(), "INNER_PORT") == 0) {
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

// Two binds clash when they share a port and an address family and one is
// that family's wildcard or both name the same address. IPv6 sockets are
// bound IPv6-only, so they never clash with IPv4 ones.
bool overlaps(const Mapping& a, const Mapping& b) {
  if (a.public_port != b.public_port) return false;
  auto family = [](const std::string& h) { return h.find(':') == std::string::npos ? 4 : 6; };
  auto wildcard = [](const std::string& h) { return h.empty() || h == "0.0.0.0" || h == "::"; };
  if (family(a.bind_host) != family(b.bind_host)) return false;
  if (wildcard(a.bind_host) || wildcard(b.bind_host)) return true;
  sockaddr_storage sa, sb;
  socklen_t la, lb;
  if (!ip_literal_to_sockaddr(a.bind_host, 1, sa, la) || !ip_literal_to_sockaddr(b.bind_host, 1, sb, lb))
    return a.bind_host == b.bind_host;
  // Compare parsed addresses so "::1" and "0:0::1" are one address.
  return la == lb && memcmp(&sa, &sb, la) == 0;
}

}  // namespace

std::string Mapping::public_name() const {
  return format_host_port(bind_host.empty() ? "0.0.0.0" : bind_host, public_port);
}

std::string Mapping::target_name() const { return format_host_port(target_host, target_port); }

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
  ParseState st;
  st.file = path;
  st.text = &text;
  st.config = &cfg;
  st.errors = &errors;
  parse_text(st);

  if (st.saw_outer_ports_file) {
    std::string ports = cfg.outer_ports_file;
    if (ports[0] != '/') {
      std::string dir = dir_of(path);
      ports = (dir == "/" ? dir : dir + "/") + ports;
    }
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
      parse_text(pst);
    }
  }

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
    Mapping inner;
    inner.bind_host = cfg.inner_addr;
    inner.public_port = cfg.inner_port;
    if (overlaps(m, inner))
      errors.push_back({m.file, m.line,
                        "public port " + std::to_string(m.public_port) + " is INNER_PORT"});
  }
  if (errors.size() != first_error) return false;
  out = std::move(cfg);
  return true;
}
