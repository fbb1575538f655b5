#include "proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace proxy {

const uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

const char* version_name(Version v) {
  switch (v) {
    case Version::off: return "off";
    case Version::v1: return "v1";
    case Version::v2: return "v2";
  }
  return "?";
}

bool parse_version(const std::string& text, Version& v) {
  if (strcasecmp(text.c_str(), "v1") == 0) {
    v = Version::v1;
  } else if (strcasecmp(text.c_str(), "v2") == 0) {
    v = Version::v2;
  } else if (strcasecmp(text.c_str(), "off") == 0) {
    v = Version::off;
  } else {
    return false;
  }
  return true;
}

namespace {

// One side's address and port; false if the family is not IPv4/IPv6.
bool take(const sockaddr* sa, Family& fam, std::array<uint8_t, 16>& addr, uint16_t& port) {
  if (!sa) return false;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    fam = Family::inet;
    memcpy(addr.data(), &in->sin_addr, 4);
    port = ntohs(in->sin_port);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    port = ntohs(in6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      fam = Family::inet;
      memcpy(addr.data(), in6->sin6_addr.s6_addr + 12, 4);
    } else {
      fam = Family::inet6;
      memcpy(addr.data(), in6->sin6_addr.s6_addr, 16);
    }
    return true;
  }
  return false;
}

std::string address_text(Family f, const std::array<uint8_t, 16>& a) {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(f == Family::inet ? AF_INET : AF_INET6, a.data(), buf, sizeof buf)) return "";
  return buf;
}

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

}  // namespace

Endpoints endpoints_from(const sockaddr* src, const sockaddr* dst) {
  Endpoints e;
  Family fs = Family::unknown, fd = Family::unknown;
  if (!take(src, fs, e.src, e.src_port) || !take(dst, fd, e.dst, e.dst_port) || fs != fd)
    return Endpoints{};
  e.family = fs;
  return e;
}

std::string build_v1(const Endpoints& e) {
  if (e.family == Family::unknown) return "PROXY UNKNOWN\r\n";
  std::string src = address_text(e.family, e.src), dst = address_text(e.family, e.dst);
  if (src.empty() || dst.empty()) return "PROXY UNKNOWN\r\n";
  return std::string("PROXY ") + (e.family == Family::inet ? "TCP4 " : "TCP6 ") + src + " " +
         dst + " " + std::to_string(e.src_port) + " " + std::to_string(e.dst_port) + "\r\n";
}

std::string build_v2(const Endpoints& e, const std::string& unique_id, bool dgram) {
  std::string out(reinterpret_cast<const char*>(kV2Signature), sizeof kV2Signature);
  size_t n = e.address_size();
  if (n == 0) {
    out.push_back(0x20);  // version 2, LOCAL
    out.push_back(0x00);  // AF_UNSPEC, UNSPEC
  } else {
    out.push_back(0x21);  // version 2, PROXY
    uint8_t fam = e.family == Family::inet ? 0x10 : 0x20;
    out.push_back(static_cast<char>(fam | (dgram ? 0x02 : 0x01)));
  }
  size_t id_len = std::min(unique_id.size(), kMaxUniqueId);
  size_t len = (n ? 2 * n + 4 : 0) + (id_len ? 3 + id_len : 0);
  put16(out, static_cast<uint16_t>(len));
  if (n) {
    out.append(reinterpret_cast<const char*>(e.src.data()), n);
    out.append(reinterpret_cast<const char*>(e.dst.data()), n);
    put16(out, e.src_port);
    put16(out, e.dst_port);
  }
  if (id_len) {
    out.push_back(static_cast<char>(kTypeUniqueId));
    put16(out, static_cast<uint16_t>(id_len));
    out.append(unique_id, 0, id_len);
  }
  return out;
}

std::string build(Version v, const Endpoints& e, const std::string& unique_id) {
  switch (v) {
    case Version::v1: return build_v1(e);
    case Version::v2: return build_v2(e, unique_id, false);
    case Version::off: break;
  }
  return "";
}

}  // namespace proxy
