// Unit tests for the PROXY protocol headers (src/proxy_header.{h,cc}),
// checked byte by byte against haproxy's doc/proxy-protocol.txt.
#include "proxy_header.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>

namespace {

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

sockaddr_in6 v6(const char* ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

const sockaddr* sa(const void* p) { return static_cast<const sockaddr*>(p); }

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

const std::string kSig = bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});

}  // namespace

TEST(ProxyHeader, VersionNames) {
  proxy::Version v = proxy::Version::off;
  ASSERT_TRUE(proxy::parse_version("V2", v));
  EXPECT_EQ(proxy::Version::v2, v);
  ASSERT_TRUE(proxy::parse_version("v1", v));
  EXPECT_EQ(proxy::Version::v1, v);
  ASSERT_TRUE(proxy::parse_version("OFF", v));
  EXPECT_EQ(proxy::Version::off, v);
  EXPECT_FALSE(proxy::parse_version("v3", v));
  EXPECT_FALSE(proxy::parse_version("", v));
  EXPECT_FALSE(proxy::parse_version("on", v));
  EXPECT_STREQ("v2", proxy::version_name(proxy::Version::v2));
}

TEST(ProxyHeader, EndpointsIpv4) {
  auto s = v4("127.0.0.7", 40000), d = v4("127.0.0.1", 4444);
  proxy::Endpoints e = proxy::endpoints_from(sa(&s), sa(&d));
  ASSERT_EQ(proxy::Family::inet, e.family);
  EXPECT_EQ(0, memcmp(e.src.data(), "\x7f\x00\x00\x07", 4));
  EXPECT_EQ(0, memcmp(e.dst.data(), "\x7f\x00\x00\x01", 4));
  EXPECT_EQ(40000, e.src_port);
  EXPECT_EQ(4444, e.dst_port);
}

TEST(ProxyHeader, EndpointsV4MappedBecomeIpv4) {
  auto s = v6("::ffff:192.0.2.9", 1), d = v6("::ffff:198.51.100.2", 2);
  proxy::Endpoints e = proxy::endpoints_from(sa(&s), sa(&d));
  ASSERT_EQ(proxy::Family::inet, e.family);
  EXPECT_EQ("PROXY TCP4 192.0.2.9 198.51.100.2 1 2\r\n", proxy::build_v1(e));
}

TEST(ProxyHeader, EndpointsUnknown) {
  auto s4 = v4("127.0.0.1", 1);
  auto d6 = v6("2001:db8::1", 2);
  EXPECT_EQ(proxy::Family::unknown, proxy::endpoints_from(sa(&s4), sa(&d6)).family);
  EXPECT_EQ(proxy::Family::unknown, proxy::endpoints_from(nullptr, sa(&d6)).family);
  sockaddr_un u{};
  u.sun_family = AF_UNIX;
  EXPECT_EQ(proxy::Family::unknown, proxy::endpoints_from(sa(&u), sa(&u)).family);
}

TEST(ProxyHeader, V1Tcp4) {
  auto s = v4("127.0.0.7", 40000), d = v4("127.0.0.1", 4444);
  EXPECT_EQ("PROXY TCP4 127.0.0.7 127.0.0.1 40000 4444\r\n",
            proxy::build_v1(proxy::endpoints_from(sa(&s), sa(&d))));
  auto s2 = v4("255.255.255.255", 65535), d2 = v4("255.255.255.255", 65535);
  std::string longest = proxy::build_v1(proxy::endpoints_from(sa(&s2), sa(&d2)));
  EXPECT_EQ(56u, longest.size());  // the spec's maximum for TCP4
}

TEST(ProxyHeader, V1Tcp6) {
  auto s = v6("2001:db8::7", 443), d = v6("::1", 8443);
  EXPECT_EQ("PROXY TCP6 2001:db8::7 ::1 443 8443\r\n",
            proxy::build_v1(proxy::endpoints_from(sa(&s), sa(&d))));
  auto s2 = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
  std::string longest = proxy::build_v1(proxy::endpoints_from(sa(&s2), sa(&s2)));
  EXPECT_EQ(104u, longest.size());  // the spec's maximum for TCP6
  EXPECT_LE(longest.size(), proxy::kV1MaxSize);
}

TEST(ProxyHeader, V1Unknown) {
  EXPECT_EQ("PROXY UNKNOWN\r\n", proxy::build_v1(proxy::Endpoints{}));
  EXPECT_EQ("PROXY UNKNOWN\r\n", proxy::build(proxy::Version::v1, proxy::Endpoints{}, "id"));
}

TEST(ProxyHeader, V2Tcp4ByteByByte) {
  auto s = v4("127.0.0.7", 0x9c40), d = v4("127.0.0.1", 0x115c);
  std::string h = proxy::build_v2(proxy::endpoints_from(sa(&s), sa(&d)), "ab-1", false);
  std::string want = kSig + bytes({0x21, 0x11, 0x00, 12 + 3 + 4,
                                   127, 0, 0, 7, 127, 0, 0, 1, 0x9c, 0x40, 0x11, 0x5c,
                                   0x05, 0x00, 0x04}) + "ab-1";
  EXPECT_EQ(want, h);
  EXPECT_EQ(proxy::kV2FixedSize + 12 + 3 + 4, h.size());
}

TEST(ProxyHeader, V2Tcp6ByteByByte) {
  auto s = v6("2001:db8::7", 443), d = v6("::1", 8443);
  std::string h = proxy::build_v2(proxy::endpoints_from(sa(&s), sa(&d)), "x", false);
  std::string want = kSig + bytes({0x21, 0x21, 0x00, 36 + 3 + 1}) +
                     bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07}) +
                     bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}) +
                     bytes({0x01, 0xbb, 0x20, 0xfb}) + bytes({0x05, 0x00, 0x01}) + "x";
  EXPECT_EQ(want, h);
}

TEST(ProxyHeader, V2DgramFamilies) {
  auto s = v4("10.0.0.1", 53), d = v4("10.0.0.2", 5353);
  std::string h = proxy::build_v2(proxy::endpoints_from(sa(&s), sa(&d)), "", true);
  ASSERT_EQ(16u + 12u, h.size());  // no TLV without an id
  EXPECT_EQ(0x21, static_cast<uint8_t>(h[12]));
  EXPECT_EQ(0x12, static_cast<uint8_t>(h[13]));
  EXPECT_EQ(0, h[14]);
  EXPECT_EQ(12, h[15]);
  auto s6 = v6("2001:db8::1", 53), d6 = v6("2001:db8::2", 53);
  std::string h6 = proxy::build_v2(proxy::endpoints_from(sa(&s6), sa(&d6)), "", true);
  ASSERT_EQ(16u + 36u, h6.size());
  EXPECT_EQ(0x22, static_cast<uint8_t>(h6[13]));
}

TEST(ProxyHeader, V2LocalWhenUnknown) {
  std::string h = proxy::build_v2(proxy::Endpoints{}, "id7", false);
  std::string want = kSig + bytes({0x20, 0x00, 0x00, 3 + 3, 0x05, 0x00, 0x03}) + "id7";
  EXPECT_EQ(want, h);
  EXPECT_EQ(kSig + bytes({0x20, 0x00, 0x00, 0x00}), proxy::build_v2(proxy::Endpoints{}, "", false));
}

TEST(ProxyHeader, V2UniqueIdTlvLength) {
  auto s = v4("192.0.2.1", 1), d = v4("192.0.2.2", 2);
  proxy::Endpoints e = proxy::endpoints_from(sa(&s), sa(&d));
  std::string id(300, 'q');  // longer than the spec's 128: cut
  std::string h = proxy::build_v2(e, id, false);
  ASSERT_EQ(16u + 12u + 3u + 128u, h.size());
  EXPECT_EQ(0x00, static_cast<uint8_t>(h[14]));
  EXPECT_EQ(12 + 3 + 128, static_cast<uint8_t>(h[15]));
  EXPECT_EQ(0x05, static_cast<uint8_t>(h[28]));
  EXPECT_EQ(0x00, static_cast<uint8_t>(h[29]));
  EXPECT_EQ(0x80, static_cast<uint8_t>(h[30]));
  EXPECT_EQ(std::string(128, 'q'), h.substr(31));
  // The longest header: IPv6 and a 128-byte id (the length stays in one byte).
  auto s6 = v6("2001:db8::1", 1);
  std::string h6 = proxy::build_v2(proxy::endpoints_from(sa(&s6), sa(&s6)), id, false);
  ASSERT_EQ(16u + 36u + 131u, h6.size());
  EXPECT_EQ(0x00, static_cast<uint8_t>(h6[14]));
  EXPECT_EQ(36 + 131, static_cast<uint8_t>(h6[15]));
}

TEST(ProxyHeader, BuildOffIsEmpty) {
  EXPECT_EQ("", proxy::build(proxy::Version::off, proxy::Endpoints{}, "id"));
}
