// PROXY protocol headers (haproxy doc/proxy-protocol.txt), built by the
// client and written to a target before any relayed byte, so the target
// sees the public peer instead of the tunnel. Pure: bytes out, no I/O.
//
// v1 is one text line ("PROXY TCP4 src dst sport dport\r\n", TCP6, or
// "PROXY UNKNOWN\r\n"). v2 is the binary form: the 12-byte signature,
// version/command (0x21 PROXY, 0x20 LOCAL when the addresses are unknown),
// family/protocol (0x11 TCP4, 0x21 TCP6, 0x12 UDP4, 0x22 UDP6, 0x00 for
// LOCAL), a length, the addresses and ports, then a PP2_TYPE_UNIQUE_ID TLV.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

struct sockaddr;

namespace proxy {

enum class Version : uint8_t { off = 0, v1 = 1, v2 = 2 };
// "off", "v1", "v2".
const char* version_name(Version v);
// "v1", "v2", "off" (any case); false for anything else.
bool parse_version(const std::string& text, Version& v);

enum class Family : uint8_t { unknown = 0, inet = 4, inet6 = 6 };

constexpr size_t kMaxUniqueId = 128;  // PP2_TYPE_UNIQUE_ID: "up to 128 bytes"
constexpr uint8_t kTypeUniqueId = 0x05;
constexpr size_t kV2FixedSize = 16;   // signature, ver_cmd, fam, len
constexpr size_t kV1MaxSize = 107;    // the longest line a receiver must take
extern const uint8_t kV2Signature[12];

// The connection a header describes: the public peer (src) and the public
// listener's address (dst). Addresses in network order; IPv4 uses the first
// 4 bytes.
struct Endpoints {
  Family family = Family::unknown;
  std::array<uint8_t, 16> src{}, dst{};
  uint16_t src_port = 0, dst_port = 0;

  size_t address_size() const {
    return family == Family::inet ? 4 : family == Family::inet6 ? 16 : 0;
  }
  bool operator==(const Endpoints& o) const {
    return family == o.family && src == o.src && dst == o.dst && src_port == o.src_port &&
           dst_port == o.dst_port;
  }
};

// From a socket's peer (src) and local (dst) addresses. Both IPv4-mapped
// IPv6 (a dual-stack listener) become IPv4. Different or unsupported
// families, or a null address, give Family::unknown.
Endpoints endpoints_from(const sockaddr* src, const sockaddr* dst);

// "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" / TCP6 / "PROXY UNKNOWN\r\n".
std::string build_v1(const Endpoints& e);

// The v2 header: PROXY with the endpoints (STREAM, or DGRAM when dgram),
// LOCAL/UNSPEC when they are unknown; then a PP2_TYPE_UNIQUE_ID TLV with
// unique_id (cut to kMaxUniqueId bytes) unless it is empty.
std::string build_v2(const Endpoints& e, const std::string& unique_id, bool dgram);

// The header of version v (v1 or v2, STREAM); empty for off.
std::string build(Version v, const Endpoints& e, const std::string& unique_id);

}  // namespace proxy
