#include "address.h"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

#include "hex.h"

bool parse_port(const std::string& text, uint16_t& out) {
  if (text.empty() || text.size() > 5) return false;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool is_valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && c != '-' && c != '_') return false;
      if (c == '-' && label == 0) return false;
      if (++label > 63) return false;
    }
    prev = c;
  }
  return prev != '-';
}

bool ip_literal_to_sockaddr(const std::string& host, uint16_t port, sockaddr_storage& ss,
                            socklen_t& len) {
  memset(&ss, 0, sizeof ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
    return true;
  }
  return false;
}

bool parse_host_port(const std::string& text, bool host_required, HostPort& out, std::string& err) {
  out = HostPort{};
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      err = "expected [IPv6]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      err = "'" + host + "' is not an IPv6 address";
      return false;
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos && host_required) {
      err = "expected HOST:PORT";
      return false;
    }
    if (colon == std::string::npos) {
      port = text;
    } else {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (host.find(':') != std::string::npos) {
        err = "IPv6 addresses must be written in brackets, as [ADDR]:PORT";
        return false;
      }
      if (host.empty()) {
        err = "empty host before ':'";
        return false;
      }
      sockaddr_storage ss;
      socklen_t len;
      if (!ip_literal_to_sockaddr(host, 1, ss, len) && !is_valid_hostname(host)) {
        err = "'" + host + "' is not an IP address or host name";
        return false;
      }
      // Dotted digits that inet_pton refused (e.g. 300.1.1.1) are a typo, not a name.
      if (host.find_first_not_of("0123456789.") == std::string::npos &&
          !ip_literal_to_sockaddr(host, 1, ss, len)) {
        err = "'" + host + "' is not a valid IPv4 address";
        return false;
      }
    }
  }
  if (!parse_port(port, out.port)) {
    err = "'" + port + "' is not a port (1-65535)";
    return false;
  }
  if (host_required && host.empty()) {
    err = "expected HOST:PORT";
    return false;
  }
  out.host = host;
  return true;
}

std::string format_host_port(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool is_wildcard(const std::string& h) { return h.empty() || h == "0.0.0.0" || h == "::"; }

int address_family(const std::string& h) {
  return h.find(':') == std::string::npos ? AF_INET : AF_INET6;
}

bool same_address(const std::string& a, const std::string& b) {
  if (address_family(a) != address_family(b)) return false;
  if (is_wildcard(a) || is_wildcard(b)) return is_wildcard(a) && is_wildcard(b);
  sockaddr_storage sa, sb;
  socklen_t la, lb;
  if (!ip_literal_to_sockaddr(a, 1, sa, la) || !ip_literal_to_sockaddr(b, 1, sb, lb)) return a == b;
  return la == lb && memcmp(&sa, &sb, la) == 0;
}

namespace {

// Appends n in decimal at p; returns the end.
char* put_decimal(char* p, unsigned n) {
  char digits[10];
  int k = 0;
  do {
    digits[k++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n);
  while (k) *p++ = digits[--k];
  return p;
}

}  // namespace

// Called for every accepted connection: IPv4 is written by hand, without
// inet_ntop and the string concatenations (a tenth of the instructions).
std::string format_sockaddr(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (!sa) return "?";
  if (sa->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    const auto* b = reinterpret_cast<const unsigned char*>(&v4->sin_addr);
    char text[sizeof "255.255.255.255:65535"];
    char* p = text;
    for (int i = 0; i < 4; ++i) {
      p = put_decimal(p, b[i]);
      *p++ = i < 3 ? '.' : ':';
    }
    p = put_decimal(p, ntohs(v4->sin_port));
    return std::string(text, p);
  }
  if (sa->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return "?";
}

std::string format_address(const sockaddr* sa) {
  std::string s = format_sockaddr(sa);
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return s;
  s.erase(colon);
  if (s.size() >= 2 && s.front() == '[') s = s.substr(1, s.size() - 2);
  return s;
}

std::string printable(const std::string& text, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_len; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x" + hex_encode(&c, 1);
    }
  }
  if (text.size() > max_len) out += "...";
  return out;
}
