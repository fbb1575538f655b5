#include "access.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

#include "address.h"

namespace {

// An address as compared by the rules: IPv4-mapped IPv6 becomes IPv4.
struct Ip {
  int family = 0;  // 0: not an IP address
  uint8_t bytes[16] = {};
};

bool is_v4_mapped(const uint8_t* a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, prefix, sizeof prefix) == 0;
}

Ip from_v6(const uint8_t* a) {
  Ip ip;
  if (is_v4_mapped(a)) {
    ip.family = AF_INET;
    memcpy(ip.bytes, a + 12, 4);
  } else {
    ip.family = AF_INET6;
    memcpy(ip.bytes, a, 16);
  }
  return ip;
}

// Strict literal: dotted-quad IPv4 or IPv6 without a zone id.
Ip ip_from_literal(const std::string& text) {
  Ip ip;
  if (text.find('\0') != std::string::npos) return ip;
  in_addr a4;
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    ip.family = AF_INET;
    memcpy(ip.bytes, &a4, 4);
    return ip;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) return from_v6(a6.s6_addr);
  return ip;
}

Ip ip_from_sockaddr(const sockaddr* sa) {
  Ip ip;
  if (!sa) return ip;
  if (sa->sa_family == AF_INET) {
    sockaddr_in v4;
    memcpy(&v4, sa, sizeof v4);
    ip.family = AF_INET;
    memcpy(ip.bytes, &v4.sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    sockaddr_in6 v6;
    memcpy(&v6, sa, sizeof v6);
    ip = from_v6(v6.sin6_addr.s6_addr);
  }
  return ip;
}

bool prefix_equal(const uint8_t* a, const uint8_t* b, unsigned prefix) {
  unsigned whole = prefix / 8, rest = prefix % 8;
  if (memcmp(a, b, whole) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

std::string ntop(int family, const uint8_t* bytes) {
  char buf[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family, bytes, buf, sizeof buf);
  return buf;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string quoted(const std::string& text) { return "'" + printable(text) + "'"; }

// True for names a resolver might read as an IPv4 address in a form
// inet_pton refuses: "10.1", "0x7f.1", "012.0.0.1", "1.2.3.4." (getaddrinfo
// goes through inet_aton), or any name whose last label is all digits.
bool numeric_name(const std::string& name) {
  std::string n = name;
  if (!n.empty() && n.back() == '.') n.pop_back();
  in_addr a;
  if (inet_aton(n.c_str(), &a) != 0) return true;
  size_t dot = n.rfind('.');
  std::string last = dot == std::string::npos ? n : n.substr(dot + 1);
  return !last.empty() && last.find_first_not_of("0123456789") == std::string::npos;
}

// The host of an OPEN request, classified once for all rules.
struct Target {
  Ip ip;             // family != 0 for an IP literal
  std::string name;  // else a valid host name: lower case, no trailing dot; "" if invalid
};

Target classify(const std::string& host) {
  Target t;
  t.ip = ip_from_literal(host);
  if (t.ip.family != 0) return t;
  if (host.find('\0') != std::string::npos || !is_valid_hostname(host) || numeric_name(host))
    return t;
  t.name = lower(host);
  if (t.name.back() == '.') t.name.pop_back();
  return t;
}

bool rule_matches(const TargetRule& r, const Target& t, uint16_t port) {
  if (port < r.port_min || port > r.port_max) return false;
  switch (r.kind) {
    case TargetRule::Kind::network: {
      if (t.ip.family == 0) return false;
      sockaddr_storage ss = {};
      if (t.ip.family == AF_INET) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
        v4->sin_family = AF_INET;
        memcpy(&v4->sin_addr, t.ip.bytes, 4);
      } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
        v6->sin6_family = AF_INET6;
        memcpy(&v6->sin6_addr, t.ip.bytes, 16);
      }
      return r.network.matches(reinterpret_cast<sockaddr*>(&ss));
    }
    case TargetRule::Kind::name:
      return !t.name.empty() && t.name == r.name;
    case TargetRule::Kind::name_suffix:
      return t.name.size() > r.name.size() &&
             t.name.compare(t.name.size() - r.name.size(), r.name.size(), r.name) == 0;
  }
  return false;
}

// "22" or "8000-9000" -> [lo, hi].
bool parse_port_spec(const std::string& spec, uint16_t& lo, uint16_t& hi, std::string& why) {
  size_t dash = spec.find('-');
  std::string a = spec.substr(0, dash);
  std::string b = dash == std::string::npos ? a : spec.substr(dash + 1);
  if (!parse_port(a, lo) || !parse_port(b, hi)) {
    why = "bad port " + quoted(spec) + " (expected PORT or FIRST-LAST, ports 1-65535)";
    return false;
  }
  if (lo > hi) {
    why = "port range " + quoted(spec) + " is reversed";
    return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// Cidr

bool Cidr::parse(const std::string& text, Cidr& out, std::string& err) {
  std::string why;
  if (parse_reason(text, out, why)) return true;
  err = "bad address " + quoted(text) + ": " + why;
  return false;
}

namespace {

// "[fd00::/64]", "[fd00::]/64", "[::1]", "10.0.0.0/8" -> address text and
// prefix text; false with why for misplaced brackets.
bool split_cidr_text(const std::string& text, std::string& addr, std::string& prefix,
                     bool& bracketed, bool& has_prefix, std::string& why) {
  bracketed = has_prefix = false;
  addr = text;
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      why = "missing ']'";
      return false;
    }
    std::string inner = text.substr(1, close - 1), after = text.substr(close + 1);
    bracketed = true;
    if (!after.empty()) {
      if (after[0] != '/' || inner.find('/') != std::string::npos) {
        why = "unexpected text after ']'";
        return false;
      }
      inner += after;
    }
    addr = inner;
  }
  size_t slash = addr.find('/');
  if (slash != std::string::npos) {
    prefix = addr.substr(slash + 1);
    addr.resize(slash);
    has_prefix = true;
  }
  return true;
}

}  // namespace

bool Cidr::parse_reason(const std::string& text, Cidr& out, std::string& why) {
  auto fail = [&why](const std::string& reason) {
    why = reason;
    return false;
  };
  if (text.empty()) return fail("empty");
  if (text.find('\0') != std::string::npos) return fail("contains a NUL byte");
  std::string addr, prefix;
  bool bracketed, has_prefix;
  if (!split_cidr_text(text, addr, prefix, bracketed, has_prefix, why)) return false;
  if (addr.find('%') != std::string::npos) return fail("zone ids (%...) are not allowed");

  Cidr c;
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
    if (bracketed) return fail("brackets are for IPv6 addresses only");
    c.family_ = AF_INET;
    memcpy(c.addr_, &a4, 4);
  } else if (inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
    c.family_ = AF_INET6;
    memcpy(c.addr_, a6.s6_addr, 16);
  } else {
    return fail(quoted(addr) + " is not an IPv4 or IPv6 address");
  }
  unsigned max = c.family_ == AF_INET ? 32 : 128;
  const char* fam = c.family_ == AF_INET ? "IPv4" : "IPv6";
  if (!has_prefix) {
    c.prefix_ = max;
  } else {
    if (prefix.empty() || prefix.size() > 3 ||
        prefix.find_first_not_of("0123456789") != std::string::npos ||
        (prefix.size() > 1 && prefix[0] == '0'))
      return fail("bad prefix length " + quoted(prefix) + " (expected 0-" + std::to_string(max) +
                  ")");
    c.prefix_ = static_cast<unsigned>(std::stoul(prefix));
    if (c.prefix_ > max)
      return fail("prefix length " + prefix + " is out of range for " + fam + " (0-" +
                  std::to_string(max) + ")");
  }
  // ::ffff:a.b.c.d/N (N >= 96) is the IPv4 network a.b.c.d/(N-96).
  if (c.family_ == AF_INET6 && c.prefix_ >= 96 && is_v4_mapped(c.addr_)) {
    c.family_ = AF_INET;
    memmove(c.addr_, c.addr_ + 12, 4);
    memset(c.addr_ + 4, 0, 12);
    c.prefix_ -= 96;
  }
  // Clear the host bits.
  unsigned bytes = c.family_ == AF_INET ? 4 : 16;
  for (unsigned i = 0; i < bytes; ++i) {
    unsigned bit = i * 8;
    if (bit >= c.prefix_)
      c.addr_[i] = 0;
    else if (c.prefix_ - bit < 8)
      c.addr_[i] &= static_cast<uint8_t>(0xff << (8 - (c.prefix_ - bit)));
  }
  out = c;
  return true;
}

bool Cidr::matches_bytes(int family, const uint8_t* addr) const {
  return family == family_ && prefix_equal(addr, addr_, prefix_);
}

bool Cidr::matches(const sockaddr* sa) const {
  Ip ip = ip_from_sockaddr(sa);
  return ip.family != 0 && matches_bytes(ip.family, ip.bytes);
}

bool Cidr::matches(const std::string& ip_literal) const {
  Ip ip = ip_from_literal(ip_literal);
  return ip.family != 0 && matches_bytes(ip.family, ip.bytes);
}

std::string Cidr::str() const {
  if (family_ != AF_INET && family_ != AF_INET6) return "(none)";
  std::string s = ntop(family_, addr_);
  if (prefix_ != (family_ == AF_INET ? 32u : 128u)) s += "/" + std::to_string(prefix_);
  return s;
}

bool Cidr::operator==(const Cidr& o) const {
  return family_ == o.family_ && prefix_ == o.prefix_ && memcmp(addr_, o.addr_, 16) == 0;
}

bool parse_cidr_list(const std::string& text, std::vector<Cidr>& out,
                     std::vector<std::string>& errors) {
  static const char kSeparators[] = ", \t\r\n";
  size_t before = errors.size();
  size_t pos = 0;
  while (true) {
    size_t b = text.find_first_not_of(kSeparators, pos);
    if (b == std::string::npos) break;
    size_t e = text.find_first_of(kSeparators, b);
    std::string token = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
    Cidr c;
    std::string err;
    if (Cidr::parse(token, c, err))
      out.push_back(c);
    else
      errors.push_back(err);
    if (e == std::string::npos) break;
    pos = e;
  }
  return errors.size() == before;
}

// ---------------------------------------------------------------------------
// AccessList

bool AccessList::permits(const sockaddr* sa) const {
  if (!sa) return false;
  Ip ip = ip_from_sockaddr(sa);
  if (ip.family == 0) return empty();
  for (const Cidr& c : deny)
    if (c.matches(sa)) return false;
  if (allow.empty()) return true;
  for (const Cidr& c : allow)
    if (c.matches(sa)) return true;
  return false;
}

std::string AccessList::str() const {
  if (empty()) return "all";
  std::string s;
  auto list = [&s](const char* word, const std::vector<Cidr>& v) {
    if (v.empty()) return;
    if (!s.empty()) s += "; ";
    s += word;
    for (const Cidr& c : v) s += " " + c.str();
  };
  list("allow", allow);
  list("deny", deny);
  return s;
}

// ---------------------------------------------------------------------------
// TargetRule, TargetPolicy

bool TargetRule::parse(const std::string& text, TargetRule& out, std::string& err) {
  auto fail = [&](const std::string& why) {
    err = "bad target " + quoted(text) + ": " + why;
    return false;
  };
  if (text.empty()) return fail("empty");
  if (text.find('\0') != std::string::npos) return fail("contains a NUL byte");

  TargetRule r;
  std::string host, ports;
  bool network = false;
  if (text[0] == '[') {
    // [V6], [V6/N], [V6]/N, each optionally followed by :PORTS
    size_t close = text.find(']');
    if (close == std::string::npos) return fail("missing ']'");
    size_t end = close + 1;
    if (end < text.size() && text[end] == '/') end = text.find(':', end);
    host = text.substr(0, end);
    if (end != std::string::npos && end < text.size()) {
      if (text[end] != ':') return fail("expected ':PORT' after ']'");
      ports = text.substr(end + 1);
      if (ports.empty()) return fail("empty port after ':'");
    }
    network = true;
  } else if (std::count(text.begin(), text.end(), ':') >= 2) {
    host = text;  // bare IPv6: never a port
    network = true;
  } else {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    if (colon != std::string::npos) {
      ports = text.substr(colon + 1);
      if (ports.empty()) return fail("empty port after ':'");
    }
    if (host.empty()) return fail("empty host");
    network = host.find('/') != std::string::npos || ip_from_literal(host).family != 0;
  }

  if (network) {
    std::string why;
    if (!Cidr::parse_reason(host, r.network, why)) {
      err = "bad target " + quoted(text) + ": " + why;
      if (text[0] != '[' && host == text && text.find(':') != std::string::npos &&
          why.find("is not an IPv4 or IPv6 address") != std::string::npos)
        err += " (an IPv6 address with a port is written [ADDR]:PORT)";
      return false;
    }
    r.kind = Kind::network;
  } else {
    std::string name = lower(host);
    if (name.back() == '.') name.pop_back();
    if (name == "*")
      return fail("'*' alone is not allowed; use *.DOMAIN for names, 0.0.0.0/0 or [::/0] for addresses");
    bool wildcard = name.size() > 2 && name.compare(0, 2, "*.") == 0;
    std::string base = wildcard ? name.substr(2) : name;
    if (base.find('*') != std::string::npos)
      return fail("a wildcard is allowed only as a leading '*.'");
    std::string what = host == text ? "" : quoted(host) + " is ";
    if (!is_valid_hostname(base) || base.back() == '.')
      return fail(what + "not an IP address, network or host name");
    if (numeric_name(base)) return fail(what + "not a valid IPv4 address");
    r.kind = wildcard ? Kind::name_suffix : Kind::name;
    r.name = wildcard ? "." + base : base;
  }
  if (!ports.empty()) {
    std::string why;
    if (!parse_port_spec(ports, r.port_min, r.port_max, why)) return fail(why);
  }
  out = r;
  return true;
}

bool TargetRule::matches(const std::string& host, uint16_t port) const {
  return rule_matches(*this, classify(host), port);
}

std::string TargetRule::str() const {
  std::string s;
  bool any_port = port_min == 1 && port_max == 65535;
  switch (kind) {
    case Kind::network:
      s = network.family() == AF_INET6 && !any_port ? "[" + network.str() + "]" : network.str();
      break;
    case Kind::name: s = name; break;
    case Kind::name_suffix: s = "*" + name; break;
  }
  if (!any_port) {
    s += ":" + std::to_string(port_min);
    if (port_max != port_min) s += "-" + std::to_string(port_max);
  }
  return s;
}

bool TargetPolicy::add(const std::string& text, std::string& err) {
  TargetRule r;
  if (!TargetRule::parse(text, r, err)) return false;
  rules_.push_back(r);
  return true;
}

bool TargetPolicy::permits(const std::string& host, uint16_t port) const {
  if (rules_.empty()) return true;
  Target t = classify(host);
  for (const TargetRule& r : rules_)
    if (rule_matches(r, t, port)) return true;
  return false;
}

const char* local_address_kind(const sockaddr* sa) {
  Ip ip = ip_from_sockaddr(sa);
  const uint8_t* b = ip.bytes;
  static const uint8_t zero[16] = {};
  if (ip.family == AF_INET) {
    if (b[0] == 127) return "loopback";
    if (b[0] == 169 && b[1] == 254) return "link-local";
    if (memcmp(b, zero, 4) == 0) return "unspecified";
  } else if (ip.family == AF_INET6) {
    if (memcmp(b, zero, 15) == 0 && b[15] == 1) return "loopback";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
    if (memcmp(b, zero, 16) == 0) return "unspecified";
  }
  return nullptr;
}

bool TargetPolicy::permits_resolved(const std::string& host, const sockaddr* sa,
                                    uint16_t port) const {
  if (rules_.empty() || classify(host).ip.family != 0) return true;
  if (!local_address_kind(sa)) return true;
  for (const TargetRule& r : rules_)
    if (r.kind == TargetRule::Kind::network && port >= r.port_min && port <= r.port_max &&
        r.network.matches(sa))
      return true;
  return false;
}

std::string TargetPolicy::str() const {
  if (rules_.empty()) return "any target";
  std::string s;
  for (const TargetRule& r : rules_) {
    if (!s.empty()) s += ", ";
    s += r.str();
  }
  return s;
}
