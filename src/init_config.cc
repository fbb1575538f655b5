#include "init_config.h"

#include <strings.h>

#include "address.h"
#include "ini_text.h"

namespace {

enum class Kind { blank, header, key, other };

struct Line {
  size_t begin = 0, end = 0;  // [begin, end) in the text, terminator included
  Kind kind = Kind::blank;
  std::string name;           // header: section name; key: the key
  std::string value;          // key: the value, comment stripped and trimmed
  bool crlf = false;
};


std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

Line classify(const std::string& text, size_t begin, size_t end) {
  Line l;
  l.begin = begin;
  l.end = end;
  std::string raw = text.substr(begin, end - begin);
  if (begin == 0 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
  l.crlf = raw.size() >= 2 && raw.compare(raw.size() - 2, 2, "\r\n") == 0;
  std::string t = ini_trim(raw);
  if (t.empty() || t[0] == ';' || t[0] == '#') return l;
  if (t[0] == '[') {
    size_t close = t.find(']');
    if (close != std::string::npos && ini_trim(ini_strip_comment(t.substr(close + 1))).empty()) {
      l.kind = Kind::header;
      l.name = upper(ini_trim(t.substr(1, close - 1)));
      return l;
    }
  }
  size_t eq = t.find('=');
  if (eq == std::string::npos) {
    l.kind = Kind::other;
    return l;
  }
  l.kind = Kind::key;
  l.name = upper(ini_trim(t.substr(0, eq)));
  l.value = ini_trim(ini_strip_comment(t.substr(eq + 1)));
  return l;
}

std::vector<Line> split_lines(const std::string& text) {
  std::vector<Line> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    lines.push_back(classify(text, pos, end));
    pos = end;
  }
  return lines;
}

// File keys: the value as written, or the default (and a line to add).
bool file_key(const ConfigScan& scan, const char* key, const char* fallback, std::string& out,
              std::vector<ConfigLine>& add, std::string& err) {
  auto it = scan.defaults.find(key);
  if (it == scan.defaults.end()) {
    out = fallback;
    add.push_back({key, fallback});
    return true;
  }
  if (it->second.empty()) {
    err = std::string(key) + " is set but empty";
    return false;
  }
  out = it->second;
  return true;
}

}  // namespace

ConfigScan scan_config(const std::string& text) {
  ConfigScan scan;
  std::string section;
  for (const Line& l : split_lines(text)) {
    if (l.kind == Kind::header) {
      section = l.name;
      if (section == "DEFAULT") scan.has_defaults = true;
    } else if (l.kind == Kind::key) {
      if (section == "DEFAULT") {
        scan.defaults[l.name] = l.value;
      } else if (section == "CLIENTS") {
        size_t dot = l.name.rfind('.');
        if (dot == std::string::npos || l.name.substr(dot + 1) != "TAGS") scan.has_clients = true;
      }
    }
  }
  return scan;
}

std::string add_default_lines(const std::string& text, const std::vector<ConfigLine>& add) {
  if (add.empty()) return text;
  std::vector<Line> lines = split_lines(text);
  const Line* after = nullptr;  // the line the new ones follow
  bool in_defaults = false, found = false;
  for (const Line& l : lines) {
    if (l.kind == Kind::header) {
      if (found) break;  // the first [DEFAULT] section is over
      in_defaults = l.name == "DEFAULT";
      if (in_defaults) {
        found = true;
        after = &l;
      }
    } else if (in_defaults && l.kind == Kind::key) {
      after = &l;
    }
  }
  size_t at = 0;
  bool crlf = !lines.empty() && lines.front().crlf;
  std::string block;
  if (after) {
    at = after->end;
    crlf = after->crlf;
    if (at == text.size() && !text.empty() && text.back() != '\n') block = crlf ? "\r\n" : "\n";
  } else if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    at = 3;  // after the byte-order mark
  }
  const char* eol = crlf ? "\r\n" : "\n";
  if (!found) block += std::string("[DEFAULT]") + eol;
  block += std::string("; added by forward-server --init:") + eol;
  for (const ConfigLine& l : add) block += l.key + " = " + l.value + eol;
  return text.substr(0, at) + block + text.substr(at);
}

bool plan_init(const ConfigScan& scan, InitPlan& out, std::string& err) {
  InitPlan p;
  auto get = [&scan](const char* key) {
    auto it = scan.defaults.find(key);
    return it == scan.defaults.end() ? std::string() : it->second;
  };
  std::string port = get("INNER_PORT");
  if (!port.empty() && !parse_port(port, p.inner_port)) {
    err = "INNER_PORT: bad value: '" + printable(port, 80) + "' (expected a port 1-65535)";
    return false;
  }
  p.inner_addr = get("INNER_ADDR");
  p.mutual_tls = !get("TLS_CLIENT_CA").empty();
  if (!file_key(scan, "TLS_CERT", "server.crt", p.cert_file, p.add, err) ||
      !file_key(scan, "TLS_KEY", "server.key", p.cert_key_file, p.add, err))
    return false;
  p.auth_none = strcasecmp(get("AUTH").c_str(), "none") == 0;
  bool has_key_file = scan.defaults.count("AUTH_KEY_FILE") != 0;
  // An admin who gave each client its own key gets no shared key behind
  // their back: that would be one more credential admitting any client.
  p.clients_only = !p.auth_none && !has_key_file && scan.has_clients;
  if (!p.auth_none && !p.clients_only &&
      !file_key(scan, "AUTH_KEY_FILE", "secret.key", p.key_file, p.add, err))
    return false;
  out = std::move(p);
  return true;
}

std::string client_host(const std::string& inner_addr, const std::string& host_name) {
  if (inner_addr.empty() || is_wildcard(inner_addr)) return host_name;
  return inner_addr;
}

std::string client_command(const InitPlan& plan, const std::string& host,
                           const std::string& fingerprint) {
  std::string cmd = "forward-client";
  if (plan.auth_none)
    cmd += " --no-auth";
  else if (plan.clients_only)
    cmd += " --name NAME --key-file NAME.key";
  else
    cmd += " --key-file client.key";
  if (plan.mutual_tls) cmd += " --cert client.crt --cert-key client-cert.key";
  cmd += " --fingerprint " + fingerprint + " " + host + " " + std::to_string(plan.inner_port);
  return cmd;
}
