// Unit tests for host:port parsing and formatting (src/address.{h,cc}).
#include "address.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

namespace {

bool port_ok(const std::string& text, uint16_t& out) { return parse_port(text, out); }

bool hp(const std::string& text, bool host_required, HostPort& out, std::string& err) {
  err.clear();
  bool ok = parse_host_port(text, host_required, out, err);
  if (!ok) {
    EXPECT_FALSE(err.empty()) << "refusing '" << text << "' must say why";
  }
  return ok;
}

void expect_hp(const std::string& text, const std::string& host, uint16_t port) {
  HostPort out;
  std::string err;
  ASSERT_TRUE(hp(text, false, out, err)) << text << ": " << err;
  EXPECT_EQ(host, out.host) << text;
  EXPECT_EQ(port, out.port) << text;
}

void expect_hp_error(const std::string& text, bool host_required = false,
                     const std::string& err_part = "") {
  HostPort out;
  std::string err;
  EXPECT_FALSE(hp(text, host_required, out, err)) << "'" << text << "' was accepted as host '"
                                                  << out.host << "' port " << out.port;
  if (!err_part.empty()) {
    EXPECT_NE(std::string::npos, err.find(err_part)) << text << ": " << err;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// parse_port

TEST(ParsePort, Bounds) {
  uint16_t p = 42;
  EXPECT_FALSE(port_ok("0", p));
  EXPECT_EQ(42, p) << "a refused port must not change the output";
  EXPECT_TRUE(port_ok("1", p));
  EXPECT_EQ(1, p);
  EXPECT_TRUE(port_ok("65535", p));
  EXPECT_EQ(65535, p);
  EXPECT_TRUE(port_ok("1111", p));
  EXPECT_EQ(1111, p);
  p = 7;
  EXPECT_FALSE(port_ok("65536", p));
  EXPECT_FALSE(port_ok("70000", p));
  EXPECT_FALSE(port_ok("99999", p));
  EXPECT_FALSE(port_ok("100000", p));
  EXPECT_FALSE(port_ok("4294967297", p));  // would wrap a 32-bit accumulator to 1
  EXPECT_EQ(7, p);
}

TEST(ParsePort, NotDecimal) {
  uint16_t p = 7;
  for (const char* s : {"abc", "", "+1", "-1", " 1", "1 ", "1a", "0x50", "8.0", "８０", "\t22"}) {
    EXPECT_FALSE(port_ok(s, p)) << "'" << s << "'";
  }
  EXPECT_FALSE(port_ok(std::string("2\0" "2", 3), p));
  EXPECT_EQ(7, p);
}

TEST(ParsePort, LeadingZerosAsImplemented) {
  // Up to five digits are read as decimal, so "00080" is port 80 and "00000" is 0.
  uint16_t p = 0;
  EXPECT_TRUE(port_ok("080", p));
  EXPECT_EQ(80, p);
  EXPECT_TRUE(port_ok("00080", p));
  EXPECT_EQ(80, p);
  EXPECT_FALSE(port_ok("00000", p));
  EXPECT_FALSE(port_ok("000080", p));  // more than five characters
}

// ---------------------------------------------------------------------------
// parse_host_port

TEST(ParseHostPort, BarePort) {
  expect_hp("80", "", 80);
  expect_hp("65535", "", 65535);
}

TEST(ParseHostPort, BarePortRefusedWhenHostRequired) {
  expect_hp_error("80", true, "HOST:PORT");
  HostPort out;
  std::string err;
  EXPECT_TRUE(hp("1.2.3.4:80", true, out, err)) << err;
  EXPECT_TRUE(hp("[::1]:22", true, out, err)) << err;
  EXPECT_TRUE(hp("host.example:8080", true, out, err)) << err;
}

TEST(ParseHostPort, Ipv4) {
  expect_hp("1.2.3.4:80", "1.2.3.4", 80);
  expect_hp("0.0.0.0:1", "0.0.0.0", 1);
  expect_hp("255.255.255.255:65535", "255.255.255.255", 65535);
  expect_hp("192.168.10.5:22", "192.168.10.5", 22);
}

TEST(ParseHostPort, BracketedIpv6) {
  expect_hp("[::1]:22", "::1", 22);
  expect_hp("[fd00::5]:22", "fd00::5", 22);
  expect_hp("[2001:db8::1]:2222", "2001:db8::1", 2222);
  expect_hp("[::]:80", "::", 80);
  expect_hp("[::ffff:1.2.3.4]:80", "::ffff:1.2.3.4", 80);
}

TEST(ParseHostPort, HostNames) {
  expect_hp("host.example:8080", "host.example", 8080);
  expect_hp("inner-web.example:8080", "inner-web.example", 8080);
  expect_hp("localhost:22", "localhost", 22);
  expect_hp("1e100.net:443", "1e100.net", 443);
  expect_hp("Host.Example.:1", "Host.Example.", 1);  // trailing dot kept as written
}

TEST(ParseHostPort, OutputResetOnEveryCall) {
  HostPort out;
  out.host = "stale";
  out.port = 9;
  std::string err;
  ASSERT_TRUE(hp("80", false, out, err));
  EXPECT_EQ("", out.host);
  EXPECT_EQ(80, out.port);
}

TEST(ParseHostPort, UnbracketedIpv6Refused) {
  expect_hp_error("::1:22", false, "brackets");
  expect_hp_error("fd00::5:22", false, "brackets");
  expect_hp_error("2001:db8::1:2222", true, "brackets");
}

TEST(ParseHostPort, MalformedBrackets) {
  expect_hp_error("[::1]22");
  expect_hp_error("[::1]");
  expect_hp_error("[::1");
  expect_hp_error("[::1]:");
  expect_hp_error("[]:80");
  expect_hp_error("[1.2.3.4]:80");  // brackets are for IPv6 only
  expect_hp_error("[host.example]:80");
  expect_hp_error("[::1]:0");
  expect_hp_error("[::1]:65536");
  expect_hp_error("[::1]:22x");
  expect_hp_error("[fe80::1%eth0]:22");
}

TEST(ParseHostPort, MissingOrBadPort) {
  expect_hp_error("1.2.3.4:");
  expect_hp_error("1.2.3.4:0");
  expect_hp_error("1.2.3.4:65536");
  expect_hp_error("1.2.3.4:http");
  expect_hp_error("1.2.3.4");
  expect_hp_error("host.example");
  expect_hp_error("");
  expect_hp_error(":");
}

TEST(ParseHostPort, EmptyHost) { expect_hp_error(":80", false, "empty host"); }

TEST(ParseHostPort, BadIpv4LooksLikeTypo) {
  expect_hp_error("300.1.1.1:80", false, "IPv4");
  expect_hp_error("1.2.3:80", false, "IPv4");
  expect_hp_error("1.2.3.4.5:80", false, "IPv4");
  expect_hp_error("1.2.3.256:80", false, "IPv4");
  expect_hp_error("123:80", false, "IPv4");
}

TEST(ParseHostPort, BadHostNames) {
  expect_hp_error("bad_host!:1");
  expect_hp_error("-lead.example:1");
  expect_hp_error("trail-.example:1");
  expect_hp_error("a..b:1");
  expect_hp_error(".example:1");
  expect_hp_error("sp ace:1");
  expect_hp_error(std::string(64, 'a') + ".example:1");
  expect_hp_error(std::string("nul\0host", 8) + ":1");
}

// ---------------------------------------------------------------------------
// is_valid_hostname

TEST(IsValidHostname, Basic) {
  EXPECT_TRUE(is_valid_hostname("localhost"));
  EXPECT_TRUE(is_valid_hostname("inner-web.example"));
  EXPECT_TRUE(is_valid_hostname("a"));
  EXPECT_TRUE(is_valid_hostname("A1-b2.C3"));
  EXPECT_TRUE(is_valid_hostname("123"));  // digit-only labels are allowed (RFC 1123)
  EXPECT_FALSE(is_valid_hostname(""));
  EXPECT_FALSE(is_valid_hostname("."));
  EXPECT_FALSE(is_valid_hostname("host name"));
  EXPECT_FALSE(is_valid_hostname("host!"));
  EXPECT_FALSE(is_valid_hostname("héllo"));
  EXPECT_FALSE(is_valid_hostname("a:b"));
  EXPECT_FALSE(is_valid_hostname("a/b"));
}

TEST(IsValidHostname, LabelLength) {
  std::string l63(63, 'x'), l64(64, 'x');
  EXPECT_TRUE(is_valid_hostname(l63));
  EXPECT_FALSE(is_valid_hostname(l64));
  EXPECT_TRUE(is_valid_hostname(l63 + ".example"));
  EXPECT_FALSE(is_valid_hostname(l64 + ".example"));
  EXPECT_TRUE(is_valid_hostname("example." + l63));
  EXPECT_FALSE(is_valid_hostname("example." + l64));
  EXPECT_TRUE(is_valid_hostname(l63 + "." + l63));
}

TEST(IsValidHostname, TotalLength) {
  // Four labels of 63 plus three dots = 255; trim to exactly 253 and 254.
  std::string l63(63, 'x');
  std::string name = l63 + "." + l63 + "." + l63 + "." + l63;
  ASSERT_EQ(255u, name.size());
  EXPECT_TRUE(is_valid_hostname(name.substr(0, 253)));
  EXPECT_FALSE(is_valid_hostname(name.substr(0, 254)));
  EXPECT_FALSE(is_valid_hostname(name));
}

TEST(IsValidHostname, Hyphens) {
  EXPECT_FALSE(is_valid_hostname("-a"));
  EXPECT_FALSE(is_valid_hostname("a-"));
  EXPECT_FALSE(is_valid_hostname("a.-b"));
  EXPECT_FALSE(is_valid_hostname("a-.b"));
  EXPECT_FALSE(is_valid_hostname("a.b-"));
  EXPECT_FALSE(is_valid_hostname("-"));
  EXPECT_TRUE(is_valid_hostname("a-b"));
  EXPECT_TRUE(is_valid_hostname("a--b.c-d"));
  EXPECT_TRUE(is_valid_hostname("xn--bcher-kva.example"));
}

TEST(IsValidHostname, Dots) {
  // One trailing dot (a fully qualified name) is accepted; empty labels are not.
  EXPECT_TRUE(is_valid_hostname("example.com."));
  EXPECT_TRUE(is_valid_hostname("a."));
  EXPECT_FALSE(is_valid_hostname("example.com.."));
  EXPECT_FALSE(is_valid_hostname(".example.com"));
  EXPECT_FALSE(is_valid_hostname("example..com"));
  EXPECT_FALSE(is_valid_hostname(".."));
}

TEST(IsValidHostname, UnderscoreAcceptedAsImplemented) {
  // Not RFC 1123, but the implementation allows '_' (SRV-style and common
  // internal names), including at the start of a label.
  EXPECT_TRUE(is_valid_hostname("_sip._tcp.example"));
  EXPECT_TRUE(is_valid_hostname("my_host"));
  EXPECT_TRUE(is_valid_hostname("host_"));
}

// ---------------------------------------------------------------------------
// ip_literal_to_sockaddr

TEST(IpLiteral, Ipv4) {
  sockaddr_storage ss;
  socklen_t len = 0;
  ASSERT_TRUE(ip_literal_to_sockaddr("192.168.10.5", 80, ss, len));
  EXPECT_EQ(sizeof(sockaddr_in), len);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  EXPECT_EQ(AF_INET, v4->sin_family);
  EXPECT_EQ(80, ntohs(v4->sin_port));
  EXPECT_EQ(htonl(0xc0a80a05u), v4->sin_addr.s_addr);
}

TEST(IpLiteral, Ipv6) {
  sockaddr_storage ss;
  socklen_t len = 0;
  ASSERT_TRUE(ip_literal_to_sockaddr("fd00::5", 22, ss, len));
  EXPECT_EQ(sizeof(sockaddr_in6), len);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  EXPECT_EQ(AF_INET6, v6->sin6_family);
  EXPECT_EQ(22, ntohs(v6->sin6_port));
  EXPECT_EQ(0xfd, v6->sin6_addr.s6_addr[0]);
  EXPECT_EQ(0x05, v6->sin6_addr.s6_addr[15]);
}

TEST(IpLiteral, NotLiterals) {
  sockaddr_storage ss;
  socklen_t len = 0;
  for (const char* s : {"", "localhost", "300.1.1.1", "1.2.3", "[::1]", "::1:", "1.2.3.4 "})
    EXPECT_FALSE(ip_literal_to_sockaddr(s, 1, ss, len)) << "'" << s << "'";
}

// ---------------------------------------------------------------------------
// Formatting

TEST(FormatHostPort, V4V6AndNames) {
  EXPECT_EQ("1.2.3.4:80", format_host_port("1.2.3.4", 80));
  EXPECT_EQ("[::1]:22", format_host_port("::1", 22));
  EXPECT_EQ("[fd00::5]:65535", format_host_port("fd00::5", 65535));
  EXPECT_EQ("inner-web.example:8080", format_host_port("inner-web.example", 8080));
  EXPECT_EQ("0.0.0.0:1", format_host_port("0.0.0.0", 1));
}

TEST(FormatHostPort, RoundTripsThroughParse) {
  for (const char* text : {"1.2.3.4:80", "[::1]:22", "[fd00::5]:22", "host.example:8080"}) {
    HostPort out;
    std::string err;
    ASSERT_TRUE(hp(text, true, out, err)) << text << ": " << err;
    EXPECT_EQ(text, format_host_port(out.host, out.port));
  }
}

TEST(FormatSockaddr, Ipv4) {
  sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(1234);
  ASSERT_EQ(1, inet_pton(AF_INET, "192.168.10.5", &sin.sin_addr));
  EXPECT_EQ("192.168.10.5:1234", format_sockaddr(reinterpret_cast<sockaddr*>(&sin)));
}

// IPv4 is formatted by hand: it must say what inet_ntop says, at the edges too.
TEST(FormatSockaddr, Ipv4MatchesInetNtop) {
  const char* addrs[] = {"0.0.0.0", "255.255.255.255", "10.0.100.9", "1.20.255.0", "127.0.0.1"};
  const uint16_t ports[] = {0, 1, 9, 10, 80, 999, 1000, 65535};
  for (const char* a : addrs)
    for (uint16_t port : ports) {
      sockaddr_in sin;
      memset(&sin, 0, sizeof sin);
      sin.sin_family = AF_INET;
      sin.sin_port = htons(port);
      ASSERT_EQ(1, inet_pton(AF_INET, a, &sin.sin_addr));
      char buf[INET_ADDRSTRLEN];
      ASSERT_NE(nullptr, inet_ntop(AF_INET, &sin.sin_addr, buf, sizeof buf));
      EXPECT_EQ(std::string(buf) + ":" + std::to_string(port),
                format_sockaddr(reinterpret_cast<sockaddr*>(&sin)));
    }
}

TEST(FormatSockaddr, Ipv6) {
  sockaddr_in6 sin6;
  memset(&sin6, 0, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(22);
  ASSERT_EQ(1, inet_pton(AF_INET6, "fd00:0:0:0:0:0:0:5", &sin6.sin6_addr));
  EXPECT_EQ("[fd00::5]:22", format_sockaddr(reinterpret_cast<sockaddr*>(&sin6)));
  ASSERT_EQ(1, inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &sin6.sin6_addr));
  sin6.sin6_port = htons(65535);
  EXPECT_EQ("[2001:db8:1:2:3:4:5:6]:65535", format_sockaddr(reinterpret_cast<sockaddr*>(&sin6)));
  EXPECT_EQ("2001:db8:1:2:3:4:5:6", format_address(reinterpret_cast<sockaddr*>(&sin6)));
}

TEST(FormatAddress, WithoutPort) {
  sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(1234);
  ASSERT_EQ(1, inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr));
  EXPECT_EQ("127.0.0.1", format_address(reinterpret_cast<sockaddr*>(&sin)));
  EXPECT_EQ("?", format_address(nullptr));
}

TEST(FormatSockaddr, FromLiteral) {
  sockaddr_storage ss;
  socklen_t len;
  ASSERT_TRUE(ip_literal_to_sockaddr("::1", 2222, ss, len));
  EXPECT_EQ("[::1]:2222", format_sockaddr(reinterpret_cast<sockaddr*>(&ss)));
  ASSERT_TRUE(ip_literal_to_sockaddr("10.0.0.1", 1, ss, len));
  EXPECT_EQ("10.0.0.1:1", format_sockaddr(reinterpret_cast<sockaddr*>(&ss)));
}

TEST(FormatSockaddr, NullAndOtherFamilies) {
  EXPECT_EQ("?", format_sockaddr(nullptr));
  sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  EXPECT_EQ("?", format_sockaddr(reinterpret_cast<sockaddr*>(&sun)));
}

// ---------------------------------------------------------------------------
// printable

TEST(Printable, PlainTextUnchanged) {
  EXPECT_EQ("", printable(""));
  EXPECT_EQ("GET / HTTP/1.1", printable("GET / HTTP/1.1"));
  EXPECT_EQ(" ~!", printable(" ~!"));
}

TEST(Printable, EscapesNonPrintableBytes) {
  EXPECT_EQ("a\\x0ab", printable("a\nb"));
  EXPECT_EQ("\\x0d\\x0a", printable("\r\n"));
  EXPECT_EQ("\\x09", printable("\t"));
  EXPECT_EQ("\\x7f", printable("\x7f"));
  EXPECT_EQ("\\x1b[31m", printable("\x1b[31m"));
  EXPECT_EQ("\\xff\\x80", printable("\xff\x80"));
  EXPECT_EQ("a\\x00b", printable(std::string("a\0b", 3)));
  EXPECT_EQ("h\\xc3\\xa9", printable("h\xc3\xa9"));
}

TEST(Printable, Truncates) {
  EXPECT_EQ("abc...", printable("abcdef", 3));
  EXPECT_EQ("abc", printable("abc", 3));  // exactly max_len: no ellipsis
  EXPECT_EQ("...", printable("abc", 0));
  EXPECT_EQ(std::string(200, 'x') + "...", printable(std::string(201, 'x')));
  EXPECT_EQ(std::string(200, 'x'), printable(std::string(200, 'x')));
  // The limit counts input bytes, so an escaped byte expands after it.
  EXPECT_EQ("\\x00\\x01...", printable(std::string("\0\1\2", 3), 2));
}
