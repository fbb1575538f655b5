// Unit tests for CIDRs, allow/deny lists and the client's target policy
// (src/access.{h,cc}).
#include "access.h"

#include <gtest/gtest.h>

#include "address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

Cidr cidr(const std::string& text) {
  Cidr c;
  std::string err;
  EXPECT_TRUE(Cidr::parse(text, c, err)) << text << ": " << err;
  return c;
}

// Parses text, expecting a refusal whose message quotes text and contains part.
void expect_cidr_error(const std::string& text, const std::string& part = "") {
  Cidr c = cidr("1.2.3.4");
  std::string err;
  EXPECT_FALSE(Cidr::parse(text, c, err)) << "'" << text << "' was accepted as " << c.str();
  EXPECT_EQ("1.2.3.4", c.str()) << "a refused CIDR must not change the output";
  EXPECT_NE(std::string::npos, err.find("'" + printable(text) + "'")) << text << ": " << err;
  if (!part.empty()) {
    EXPECT_NE(std::string::npos, err.find(part)) << text << ": " << err;
  }
}

struct Addr {
  sockaddr_storage ss = {};
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

Addr v4(const char* ip, uint16_t port = 1234) {
  Addr a;
  auto* s = reinterpret_cast<sockaddr_in*>(&a.ss);
  s->sin_family = AF_INET;
  s->sin_port = htons(port);
  EXPECT_EQ(1, inet_pton(AF_INET, ip, &s->sin_addr)) << ip;
  return a;
}

Addr v6(const char* ip, uint16_t port = 1234) {
  Addr a;
  auto* s = reinterpret_cast<sockaddr_in6*>(&a.ss);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  EXPECT_EQ(1, inet_pton(AF_INET6, ip, &s->sin6_addr)) << ip;
  return a;
}

TargetRule rule(const std::string& text) {
  TargetRule r;
  std::string err;
  EXPECT_TRUE(TargetRule::parse(text, r, err)) << text << ": " << err;
  return r;
}

void expect_rule_error(const std::string& text, const std::string& part = "") {
  TargetRule r;
  std::string err;
  EXPECT_FALSE(TargetRule::parse(text, r, err)) << "'" << text << "' was accepted as " << r.str();
  EXPECT_NE(std::string::npos, err.find("'" + printable(text) + "'")) << text << ": " << err;
  if (!part.empty()) {
    EXPECT_NE(std::string::npos, err.find(part)) << text << ": " << err;
  }
}

TargetPolicy policy(const std::vector<std::string>& values) {
  TargetPolicy p;
  for (const auto& v : values) {
    std::string err;
    EXPECT_TRUE(p.add(v, err)) << v << ": " << err;
  }
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------
// Cidr::parse

TEST(CidrParse, Ipv4Forms) {
  Cidr c = cidr("10.0.0.0/8");
  EXPECT_EQ(AF_INET, c.family());
  EXPECT_EQ(8u, c.prefix());
  EXPECT_EQ("10.0.0.0/8", c.str());

  c = cidr("192.168.1.5");
  EXPECT_EQ(32u, c.prefix()) << "a bare address is /32";
  EXPECT_EQ("192.168.1.5", c.str());
  EXPECT_EQ(cidr("192.168.1.5/32"), c);

  c = cidr("0.0.0.0/0");
  EXPECT_EQ(0u, c.prefix());
  EXPECT_EQ("0.0.0.0/0", c.str());
}

TEST(CidrParse, Ipv6Forms) {
  Cidr c = cidr("fd00::/64");
  EXPECT_EQ(AF_INET6, c.family());
  EXPECT_EQ(64u, c.prefix());
  EXPECT_EQ("fd00::/64", c.str());

  c = cidr("::1");
  EXPECT_EQ(128u, c.prefix()) << "a bare IPv6 address is /128";
  EXPECT_EQ("::1", c.str());

  EXPECT_EQ("::/0", cidr("::/0").str());
  EXPECT_EQ("2001:db8::/32", cidr("2001:DB8::/32").str()) << "hex digits are case-insensitive";
}

TEST(CidrParse, Ipv6Brackets) {
  EXPECT_EQ(cidr("fd00::/64"), cidr("[fd00::]/64"));
  EXPECT_EQ(cidr("fd00::/64"), cidr("[fd00::/64]"));
  EXPECT_EQ(cidr("::1"), cidr("[::1]"));
  expect_cidr_error("[10.0.0.1]", "IPv6 addresses only");
  expect_cidr_error("[10.0.0.0/8]", "IPv6 addresses only");
  expect_cidr_error("[fd00::", "missing ']'");
  expect_cidr_error("[fd00::]:22", "after ']'");
  expect_cidr_error("[fd00::/64]/64", "after ']'");
  expect_cidr_error("[]");
}

TEST(CidrParse, HostBitsAreMasked) {
  EXPECT_EQ("10.0.0.0/8", cidr("10.1.2.3/8").str());
  EXPECT_EQ("192.168.1.0/24", cidr("192.168.1.77/24").str());
  EXPECT_EQ("192.168.1.64/26", cidr("192.168.1.77/26").str());
  EXPECT_EQ("0.0.0.0/0", cidr("255.255.255.255/0").str());
  EXPECT_EQ("fd00:1:2:3::/64", cidr("fd00:1:2:3:4:5:6:7/64").str());
  EXPECT_EQ("fc00::/7", cidr("fdff::1/7").str()) << "partial first byte";
  EXPECT_EQ("fc00::/7", cidr("fd00::/7").str());
  EXPECT_EQ("::/0", cidr("ffff::1/0").str());
}

TEST(CidrParse, PrefixBounds) {
  EXPECT_EQ(32u, cidr("1.2.3.4/32").prefix());
  EXPECT_EQ(128u, cidr("::1/128").prefix());
  expect_cidr_error("10.0.0.0/33", "out of range for IPv4 (0-32)");
  expect_cidr_error("::/129", "out of range for IPv6 (0-128)");
  expect_cidr_error("10.0.0.0/", "bad prefix length");
  expect_cidr_error("10.0.0.0/-1", "bad prefix length");
  expect_cidr_error("10.0.0.0/+8", "bad prefix length");
  expect_cidr_error("10.0.0.0/08", "bad prefix length");
  expect_cidr_error("10.0.0.0/8a", "bad prefix length");
  expect_cidr_error("10.0.0.0/ 8", "bad prefix length");
  expect_cidr_error("10.0.0.0/1000", "bad prefix length");
  expect_cidr_error("10.0.0.0/99999999999999999999", "bad prefix length");
  expect_cidr_error("10.0.0.0/8/8");
  expect_cidr_error("/8");
}

TEST(CidrParse, BadAddresses) {
  expect_cidr_error("", "empty");
  expect_cidr_error("10.0.0", "not an IPv4 or IPv6 address");
  expect_cidr_error("10.1", "not an IPv4 or IPv6 address");
  expect_cidr_error("256.0.0.0/8");
  expect_cidr_error("010.0.0.1") ;
  expect_cidr_error("0x0a.0.0.1");
  expect_cidr_error("10.0.0.1 ");
  expect_cidr_error(" 10.0.0.1");
  expect_cidr_error("example.com");
  expect_cidr_error("fd00:::1");
  expect_cidr_error("10.0.0.0:22");
  expect_cidr_error(std::string("10.0.0.1\0", 9), "NUL");
}

TEST(CidrParse, ZoneIdsRefused) {
  expect_cidr_error("fe80::1%eth0", "zone ids");
  expect_cidr_error("fe80::%1/64", "zone ids");
  expect_cidr_error("[fe80::1%eth0]", "zone ids");
}

TEST(CidrParse, V4MappedRuleBecomesIpv4) {
  Cidr c = cidr("::ffff:10.0.0.0/104");
  EXPECT_EQ(AF_INET, c.family());
  EXPECT_EQ(cidr("10.0.0.0/8"), c);
  EXPECT_EQ(cidr("1.2.3.4"), cidr("::ffff:1.2.3.4"));
  EXPECT_EQ(cidr("0.0.0.0/0"), cidr("::ffff:0:0/96"));
  // Shorter than /96 it is not one IPv4 network: stays IPv6.
  EXPECT_EQ(AF_INET6, cidr("::ffff:0:0/80").family());
}

// ---------------------------------------------------------------------------
// Cidr::matches

TEST(CidrMatch, Ipv4) {
  Cidr c = cidr("10.0.0.0/8");
  EXPECT_TRUE(c.matches(v4("10.0.0.0").sa()));
  EXPECT_TRUE(c.matches(v4("10.255.255.255").sa()));
  EXPECT_FALSE(c.matches(v4("11.0.0.0").sa()));
  EXPECT_FALSE(c.matches(v4("9.255.255.255").sa()));
  EXPECT_TRUE(cidr("192.168.1.64/26").matches(v4("192.168.1.127").sa()));
  EXPECT_FALSE(cidr("192.168.1.64/26").matches(v4("192.168.1.128").sa()));
  EXPECT_FALSE(cidr("192.168.1.64/26").matches(v4("192.168.1.63").sa()));
}

TEST(CidrMatch, Slash32AndSlash0) {
  Cidr one = cidr("127.0.0.2");
  EXPECT_TRUE(one.matches(v4("127.0.0.2").sa()));
  EXPECT_FALSE(one.matches(v4("127.0.0.1").sa()));
  EXPECT_FALSE(one.matches(v4("127.0.0.3").sa()));
  Cidr all = cidr("0.0.0.0/0");
  EXPECT_TRUE(all.matches(v4("0.0.0.0").sa()));
  EXPECT_TRUE(all.matches(v4("255.255.255.255").sa()));
  EXPECT_FALSE(all.matches(v6("::1").sa())) << "an IPv4 rule never matches IPv6";
}

TEST(CidrMatch, Ipv6) {
  Cidr c = cidr("fd00::/64");
  EXPECT_TRUE(c.matches(v6("fd00::1").sa()));
  EXPECT_TRUE(c.matches(v6("fd00::ffff:ffff:ffff:ffff").sa()));
  EXPECT_FALSE(c.matches(v6("fd00:0:0:1::").sa()));
  EXPECT_FALSE(c.matches(v4("10.0.0.1").sa()));
  Cidr one = cidr("::1");
  EXPECT_TRUE(one.matches(v6("::1").sa()));
  EXPECT_FALSE(one.matches(v6("::2").sa()));
  EXPECT_FALSE(one.matches(v6("::").sa()));
  EXPECT_TRUE(cidr("::/0").matches(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").sa()));
  EXPECT_TRUE(cidr("fc00::/7").matches(v6("fdff::1").sa()));
  EXPECT_FALSE(cidr("fc00::/7").matches(v6("fe00::1").sa()));
}

TEST(CidrMatch, V4MappedPeerMatchesIpv4Rules) {
  Addr mapped = v6("::ffff:1.2.3.4");
  EXPECT_TRUE(cidr("1.2.3.0/24").matches(mapped.sa()));
  EXPECT_TRUE(cidr("1.2.3.4").matches(mapped.sa()));
  EXPECT_TRUE(cidr("0.0.0.0/0").matches(mapped.sa()));
  EXPECT_FALSE(cidr("1.2.4.0/24").matches(mapped.sa()));
  EXPECT_FALSE(cidr("::/0").matches(mapped.sa())) << "a mapped peer is an IPv4 peer";
  EXPECT_TRUE(cidr("::ffff:1.2.3.0/120").matches(v4("1.2.3.9").sa()));
  // ::1.2.3.4 (IPv4-compatible, deprecated) is not mapped: plain IPv6.
  EXPECT_FALSE(cidr("1.2.3.4").matches(v6("::1.2.3.4").sa()));
}

TEST(CidrMatch, OtherFamiliesNeverMatch) {
  sockaddr_un un = {};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(cidr("0.0.0.0/0").matches(reinterpret_cast<sockaddr*>(&un)));
  EXPECT_FALSE(cidr("::/0").matches(reinterpret_cast<sockaddr*>(&un)));
  EXPECT_FALSE(cidr("0.0.0.0/0").matches(static_cast<const sockaddr*>(nullptr)));
}

TEST(CidrMatch, DefaultMatchesNothing) {
  Cidr none;
  EXPECT_EQ(AF_UNSPEC, none.family());
  EXPECT_EQ("(none)", none.str());
  EXPECT_FALSE(none.matches(v4("0.0.0.0").sa()));
  EXPECT_FALSE(none.matches(v6("::").sa()));
  EXPECT_FALSE(TargetRule().matches("0.0.0.0", 1));
}

TEST(CidrMatch, Literals) {
  EXPECT_TRUE(cidr("10.0.0.0/8").matches(std::string("10.9.8.7")));
  EXPECT_TRUE(cidr("10.0.0.0/8").matches(std::string("::ffff:10.9.8.7")));
  EXPECT_TRUE(cidr("fd00::/8").matches(std::string("FD12::1")));
  EXPECT_FALSE(cidr("10.0.0.0/8").matches(std::string("10.1")));
  EXPECT_FALSE(cidr("0.0.0.0/0").matches(std::string("localhost")));
  EXPECT_FALSE(cidr("::/0").matches(std::string("fe80::1%lo")));
  EXPECT_FALSE(cidr("::/0").matches(std::string("")));
}

// ---------------------------------------------------------------------------
// parse_cidr_list, AccessList

TEST(CidrList, Separators) {
  std::vector<Cidr> out;
  std::vector<std::string> errors;
  EXPECT_TRUE(parse_cidr_list("10.0.0.0/8, 192.168.0.0/16\t::1 ,,fd00::/8\n", out, errors));
  ASSERT_EQ(4u, out.size());
  EXPECT_EQ("10.0.0.0/8", out[0].str());
  EXPECT_EQ("192.168.0.0/16", out[1].str());
  EXPECT_EQ("::1", out[2].str());
  EXPECT_EQ("fd00::/8", out[3].str());
  EXPECT_TRUE(errors.empty());
}

TEST(CidrList, EmptyIsEmpty) {
  std::vector<Cidr> out;
  std::vector<std::string> errors;
  EXPECT_TRUE(parse_cidr_list("", out, errors));
  EXPECT_TRUE(parse_cidr_list(" ,\t, ", out, errors));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(errors.empty());
}

TEST(CidrList, EveryBadTokenReported) {
  std::vector<Cidr> out;
  std::vector<std::string> errors;
  EXPECT_FALSE(parse_cidr_list("10.0.0.0/33 1.2.3.4, bogus,::/129", out, errors));
  ASSERT_EQ(3u, errors.size());
  EXPECT_NE(std::string::npos, errors[0].find("'10.0.0.0/33'")) << errors[0];
  EXPECT_NE(std::string::npos, errors[1].find("'bogus'")) << errors[1];
  EXPECT_NE(std::string::npos, errors[2].find("'::/129'")) << errors[2];
  ASSERT_EQ(1u, out.size()) << "good tokens are kept";
  EXPECT_EQ("1.2.3.4", out[0].str());
  // A later good call reports success even with earlier errors in the vector.
  EXPECT_TRUE(parse_cidr_list("::1", out, errors));
  EXPECT_EQ(3u, errors.size());
}

TEST(CidrList, UnprintableTokenQuotedSafely) {
  std::vector<Cidr> out;
  std::vector<std::string> errors;
  EXPECT_FALSE(parse_cidr_list("1.2.3.4/\x01", out, errors));
  ASSERT_EQ(1u, errors.size());
  EXPECT_NE(std::string::npos, errors[0].find("\\x01")) << errors[0];
}

TEST(AccessList, EmptyAllowsAll) {
  AccessList acl;
  EXPECT_TRUE(acl.empty());
  EXPECT_TRUE(acl.permits(v4("1.2.3.4").sa()));
  EXPECT_TRUE(acl.permits(v6("::1").sa()));
  EXPECT_EQ("all", acl.str());
  sockaddr_un un = {};
  un.sun_family = AF_UNIX;
  EXPECT_TRUE(acl.permits(reinterpret_cast<sockaddr*>(&un)));
  EXPECT_FALSE(acl.permits(nullptr)) << "nullptr is never permitted";
}

TEST(AccessList, DenyOnly) {
  AccessList acl;
  acl.deny = {cidr("127.0.0.2")};
  EXPECT_FALSE(acl.permits(v4("127.0.0.2").sa()));
  EXPECT_TRUE(acl.permits(v4("127.0.0.1").sa())) << "no allow list: all but the denied";
  EXPECT_TRUE(acl.permits(v6("::1").sa()));
  EXPECT_FALSE(acl.permits(v6("::ffff:127.0.0.2").sa())) << "mapped peer cannot dodge a v4 deny";
}

TEST(AccessList, AllowOnly) {
  AccessList acl;
  acl.allow = {cidr("127.0.0.1"), cidr("fd00::/8")};
  EXPECT_TRUE(acl.permits(v4("127.0.0.1").sa()));
  EXPECT_FALSE(acl.permits(v4("127.0.0.2").sa()));
  EXPECT_TRUE(acl.permits(v6("fd12::1").sa()));
  EXPECT_FALSE(acl.permits(v6("::1").sa()));
  EXPECT_TRUE(acl.permits(v6("::ffff:127.0.0.1").sa()));
  sockaddr_un un = {};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(acl.permits(reinterpret_cast<sockaddr*>(&un)));
  EXPECT_EQ("allow 127.0.0.1 fd00::/8", acl.str());
}

TEST(AccessList, DenyWins) {
  AccessList acl;
  acl.allow = {cidr("10.0.0.0/8")};
  acl.deny = {cidr("10.9.0.0/16")};
  EXPECT_TRUE(acl.permits(v4("10.1.2.3").sa()));
  EXPECT_FALSE(acl.permits(v4("10.9.2.3").sa()));
  EXPECT_FALSE(acl.permits(v4("11.0.0.1").sa()));
  EXPECT_EQ("allow 10.0.0.0/8; deny 10.9.0.0/16", acl.str());
  // Same address in both lists: denied.
  acl.allow.push_back(cidr("192.0.2.1"));
  acl.deny.push_back(cidr("192.0.2.1"));
  EXPECT_FALSE(acl.permits(v4("192.0.2.1").sa()));
  // Deny everything.
  AccessList all;
  all.deny = {cidr("0.0.0.0/0"), cidr("::/0")};
  all.allow = {cidr("127.0.0.1")};
  EXPECT_FALSE(all.permits(v4("127.0.0.1").sa()));
  EXPECT_FALSE(all.permits(v6("::1").sa()));
  EXPECT_FALSE(all.permits(v6("::ffff:127.0.0.1").sa()));
}

// ---------------------------------------------------------------------------
// TargetRule::parse

TEST(TargetRuleParse, Networks) {
  TargetRule r = rule("10.0.0.0/8");
  EXPECT_EQ(TargetRule::Kind::network, r.kind);
  EXPECT_EQ("10.0.0.0/8", r.network.str());
  EXPECT_EQ(1, r.port_min);
  EXPECT_EQ(65535, r.port_max);
  EXPECT_EQ("10.0.0.0/8", r.str());

  r = rule("10.0.0.5:22");
  EXPECT_EQ("10.0.0.5", r.network.str());
  EXPECT_EQ(22, r.port_min);
  EXPECT_EQ(22, r.port_max);
  EXPECT_EQ("10.0.0.5:22", r.str());

  r = rule("10.0.0.0/24:8000-9000");
  EXPECT_EQ("10.0.0.0/24", r.network.str());
  EXPECT_EQ(8000, r.port_min);
  EXPECT_EQ(9000, r.port_max);
  EXPECT_EQ("10.0.0.0/24:8000-9000", r.str());

  EXPECT_EQ("0.0.0.0/0", rule("0.0.0.0/0").str());
  EXPECT_EQ("10.0.0.0/8", rule("10.1.1.1/8").str()) << "host bits masked";
}

TEST(TargetRuleParse, Ipv6Networks) {
  TargetRule r = rule("[fd00::/64]:22");
  EXPECT_EQ(TargetRule::Kind::network, r.kind);
  EXPECT_EQ("fd00::/64", r.network.str());
  EXPECT_EQ(22, r.port_min);
  EXPECT_EQ(22, r.port_max);
  EXPECT_EQ("[fd00::/64]:22", r.str());

  r = rule("[fd00::5]:1-1024");
  EXPECT_EQ("fd00::5", r.network.str());
  EXPECT_EQ(1, r.port_min);
  EXPECT_EQ(1024, r.port_max);
  EXPECT_EQ("[fd00::5]:1-1024", r.str());

  EXPECT_EQ("[fd00::/64]:443", rule("[fd00::]/64:443").str());
  EXPECT_EQ("fd00::/64", rule("[fd00::]/64").str());
  EXPECT_EQ("fd00::/64", rule("[fd00::/64]").str());
  EXPECT_EQ("fd00::/64", rule("fd00::/64").str());
  EXPECT_EQ("::1", rule("::1").str());
  EXPECT_EQ("::/0", rule("::/0").str());
  // Unbracketed IPv6 never carries a port: this is one address.
  r = rule("fd00::5:22");
  EXPECT_EQ("fd00::5:22", r.network.str());
  EXPECT_EQ(1, r.port_min);
  EXPECT_EQ(65535, r.port_max);
  // Mapped IPv6 rule is an IPv4 rule.
  EXPECT_EQ("10.0.0.5:22", rule("[::ffff:10.0.0.5]:22").str());
}

TEST(TargetRuleParse, Names) {
  TargetRule r = rule("db.internal");
  EXPECT_EQ(TargetRule::Kind::name, r.kind);
  EXPECT_EQ("db.internal", r.name);
  EXPECT_EQ("db.internal", r.str());

  r = rule("DB.Internal:5432");
  EXPECT_EQ("db.internal", r.name) << "names are stored in lower case";
  EXPECT_EQ(5432, r.port_min);
  EXPECT_EQ("db.internal:5432", r.str());

  EXPECT_EQ("db.internal", rule("db.internal.").name) << "trailing dot ignored";
  EXPECT_EQ("localhost", rule("localhost").str());

  r = rule("*.corp.example:443");
  EXPECT_EQ(TargetRule::Kind::name_suffix, r.kind);
  EXPECT_EQ(".corp.example", r.name);
  EXPECT_EQ("*.corp.example:443", r.str());
  EXPECT_EQ("*.corp.example", rule("*.CORP.example").str());
}

TEST(TargetRuleParse, Ports) {
  EXPECT_EQ(65535, rule("10.0.0.1:65535").port_min);
  EXPECT_EQ(1, rule("10.0.0.1:1").port_max);
  TargetRule r = rule("h:1-65535");
  EXPECT_EQ(1, r.port_min);
  EXPECT_EQ(65535, r.port_max);
  EXPECT_EQ("h", r.str()) << "the full range prints as any port";
  r = rule("h:80-80");
  EXPECT_EQ("h:80", r.str());
  expect_rule_error("10.0.0.1:0", "bad port");
  expect_rule_error("10.0.0.1:65536", "bad port");
  expect_rule_error("10.0.0.1:0-10", "bad port");
  expect_rule_error("10.0.0.1:10-65536", "bad port");
  expect_rule_error("10.0.0.1:9000-8000", "reversed");
  expect_rule_error("10.0.0.1:", "empty port");
  expect_rule_error("10.0.0.1:-", "bad port");
  expect_rule_error("10.0.0.1:80-", "bad port");
  expect_rule_error("10.0.0.1:-80", "bad port");
  expect_rule_error("10.0.0.1:1-2-3", "bad port");
  expect_rule_error("10.0.0.1:http", "bad port");
  expect_rule_error("10.0.0.1: 80", "bad port");
  expect_rule_error("[fd00::1]:", "empty port");
  expect_rule_error("[fd00::1]:70000", "bad port");
  expect_rule_error("[fd00::1]:2-1", "reversed");
}

TEST(TargetRuleParse, Refused) {
  expect_rule_error("", "empty");
  expect_rule_error(":22", "empty host");
  expect_rule_error("10.0.0.0/33", "out of range for IPv4");
  expect_rule_error("[fd00::/129]:22", "out of range for IPv6");
  expect_rule_error("[10.0.0.1]:22", "IPv6 addresses only");
  expect_rule_error("[fd00::1", "missing ']'");
  expect_rule_error("[fd00::1]22", "expected ':PORT'");
  expect_rule_error("[fe80::1%eth0]:22", "zone ids");
  expect_rule_error("fe80::1%eth0", "zone ids");
  expect_rule_error("fd00::zz", "[ADDR]:PORT");
  expect_rule_error("10.1", "not a valid IPv4 address");
  expect_rule_error("10.1:22", "not a valid IPv4 address");
  expect_rule_error("256.1.1.1", "not a valid IPv4 address");
  expect_rule_error("0x7f.0.0.1", "not a valid IPv4 address");
  expect_rule_error("012.0.0.1", "not a valid IPv4 address");
  expect_rule_error("1234", "not a valid IPv4 address");
  expect_rule_error("10.0.0.1.", "not a valid IPv4 address");
  expect_rule_error("host.123", "not a valid IPv4 address");
  expect_rule_error("10.0.0.0/8x");
  expect_rule_error("bad_host!", "not an IP address, network or host name");
  expect_rule_error("-bad.example");
  expect_rule_error("a..b");
  expect_rule_error("a b");
  expect_rule_error("*", "'*' alone");
  expect_rule_error("*:443", "'*' alone");
  expect_rule_error("*.", "'*' alone");
  expect_rule_error("db.*.example", "leading '*.'");
  expect_rule_error("*db.example", "leading '*.'");
  expect_rule_error("*.*.example", "leading '*.'");
  expect_rule_error("*..example");
  expect_rule_error(".", "not an IP address");
  expect_rule_error(std::string(254, 'a'));
  expect_rule_error(std::string("db\0.internal", 12), "NUL");
}

// ---------------------------------------------------------------------------
// TargetRule::matches, TargetPolicy

TEST(TargetMatch, NetworkRules) {
  TargetRule r = rule("10.0.0.0/24:8000-9000");
  EXPECT_TRUE(r.matches("10.0.0.5", 8000));
  EXPECT_TRUE(r.matches("10.0.0.5", 9000));
  EXPECT_FALSE(r.matches("10.0.0.5", 7999));
  EXPECT_FALSE(r.matches("10.0.0.5", 9001));
  EXPECT_FALSE(r.matches("10.0.1.5", 8500));
  EXPECT_TRUE(r.matches("::ffff:10.0.0.5", 8500)) << "mapped target is the IPv4 target";
  EXPECT_FALSE(r.matches("10.0.0.005", 8500)) << "not a strict literal";
  EXPECT_FALSE(r.matches("10.0.0", 8500));

  TargetRule any = rule("0.0.0.0/0");
  EXPECT_TRUE(any.matches("255.255.255.255", 65535));
  EXPECT_TRUE(any.matches("0.0.0.0", 1));
  EXPECT_FALSE(any.matches("::1", 22));
  EXPECT_FALSE(any.matches("localhost", 22)) << "a network rule never matches a name";
  EXPECT_FALSE(any.matches("0x7f.1", 22));

  TargetRule six = rule("[fd00::/64]:22");
  EXPECT_TRUE(six.matches("fd00::1", 22));
  EXPECT_TRUE(six.matches("FD00::ABCD", 22));
  EXPECT_FALSE(six.matches("fd00::1", 23));
  EXPECT_FALSE(six.matches("fd00:0:0:1::1", 22));
  EXPECT_FALSE(six.matches("[fd00::1]", 22)) << "OPEN carries IPv6 without brackets";
  EXPECT_FALSE(six.matches("fd00::1%eth0", 22));

  TargetRule port_max = rule("10.0.0.1:65535");
  EXPECT_TRUE(port_max.matches("10.0.0.1", 65535));
  EXPECT_FALSE(port_max.matches("10.0.0.1", 65534));
  EXPECT_FALSE(rule("10.0.0.1").matches("10.0.0.1", 0)) << "port 0 is never a target";
}

TEST(TargetMatch, NameRules) {
  TargetRule r = rule("db.internal:5432");
  EXPECT_TRUE(r.matches("db.internal", 5432));
  EXPECT_TRUE(r.matches("DB.INTERNAL", 5432)) << "case-insensitive";
  EXPECT_TRUE(r.matches("db.internal.", 5432)) << "trailing dot";
  EXPECT_FALSE(r.matches("db.internal", 5433));
  EXPECT_FALSE(r.matches("x.db.internal", 5432)) << "exact, not a suffix";
  EXPECT_FALSE(r.matches("db.internal.evil.example", 5432));
  EXPECT_FALSE(r.matches("db.internal..", 5432));
  EXPECT_FALSE(r.matches("db", 5432));
  EXPECT_FALSE(r.matches(std::string("db.internal\0.evil", 17), 5432));
  EXPECT_FALSE(r.matches("", 5432));

  TargetRule w = rule("*.corp.example");
  EXPECT_TRUE(w.matches("a.corp.example", 1));
  EXPECT_TRUE(w.matches("a.b.corp.example", 65535)) << "any depth";
  EXPECT_TRUE(w.matches("WWW.Corp.Example.", 443));
  EXPECT_FALSE(w.matches("corp.example", 443)) << "the base name itself is not covered";
  EXPECT_FALSE(w.matches("evilcorp.example", 443));
  EXPECT_FALSE(w.matches(".corp.example", 443));
  EXPECT_FALSE(w.matches("a.corp.example.evil", 443));

  TargetRule num = rule("localhost");
  EXPECT_FALSE(num.matches("127.0.0.1", 22)) << "a name rule never matches an IP literal";
}

TEST(TargetPolicy, EmptyPermitsEverything) {
  TargetPolicy p;
  EXPECT_TRUE(p.empty());
  EXPECT_TRUE(p.permits("10.0.0.1", 22));
  EXPECT_TRUE(p.permits("anything.example", 1));
  EXPECT_TRUE(p.permits("", 65535));
  EXPECT_EQ("any target", p.str());
}

TEST(TargetPolicy, AnyRuleMatches) {
  TargetPolicy p = policy({"10.0.0.0/8:22", "[fd00::/64]:443", "db.internal:5432",
                           "*.corp.example:8000-8080", "127.0.0.1"});
  EXPECT_FALSE(p.empty());
  EXPECT_EQ(5u, p.rules().size());
  EXPECT_EQ("10.0.0.0/8:22, [fd00::/64]:443, db.internal:5432, *.corp.example:8000-8080, 127.0.0.1",
            p.str());
  EXPECT_TRUE(p.permits("10.1.2.3", 22));
  EXPECT_FALSE(p.permits("10.1.2.3", 80));
  EXPECT_TRUE(p.permits("fd00::9", 443));
  EXPECT_FALSE(p.permits("fd00::9", 22));
  EXPECT_TRUE(p.permits("Db.Internal", 5432));
  EXPECT_TRUE(p.permits("web.corp.example", 8080));
  EXPECT_FALSE(p.permits("web.corp.example", 8081));
  EXPECT_TRUE(p.permits("127.0.0.1", 1));
  EXPECT_TRUE(p.permits("::ffff:127.0.0.1", 65535));
  EXPECT_FALSE(p.permits("127.0.0.2", 22));
  EXPECT_FALSE(p.permits("::1", 22));
  EXPECT_FALSE(p.permits("localhost", 22));
  EXPECT_FALSE(p.permits("192.168.1.1", 22));
}

TEST(TargetPolicy, OddHostsRefused) {
  TargetPolicy p = policy({"0.0.0.0/0", "[::/0]", "*.example"});
  EXPECT_TRUE(p.permits("1.2.3.4", 80));
  EXPECT_TRUE(p.permits("::1", 80));
  EXPECT_TRUE(p.permits("a.example", 80));
  // Numeric forms a resolver might turn into an address: neither literal nor name.
  for (const char* h : {"127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "1.2.3.4.", "a.123"})
    EXPECT_FALSE(p.permits(h, 80)) << h;
  for (const char* h : {"", "[::1]", "fe80::1%eth0", "a b.example", "a.example:80", "*.example"})
    EXPECT_FALSE(p.permits(h, 80)) << h;
  EXPECT_FALSE(p.permits(std::string(254, 'a') + ".example", 80));
}

TEST(TargetPolicy, AddReportsBadValue) {
  TargetPolicy p;
  std::string err;
  EXPECT_FALSE(p.add("10.0.0.0/24:9000-8000", err));
  EXPECT_NE(std::string::npos, err.find("'10.0.0.0/24:9000-8000'")) << err;
  EXPECT_NE(std::string::npos, err.find("reversed")) << err;
  EXPECT_TRUE(p.empty()) << "a refused value adds nothing";
}

// ---------------------------------------------------------------------------
// Resolved addresses of names admitted by name rules

TEST(LocalAddressKind, Classifies) {
  EXPECT_STREQ("loopback", local_address_kind(v4("127.0.0.1").sa()));
  EXPECT_STREQ("loopback", local_address_kind(v4("127.255.0.9").sa()));
  EXPECT_STREQ("loopback", local_address_kind(v6("::1").sa()));
  EXPECT_STREQ("loopback", local_address_kind(v6("::ffff:127.0.0.1").sa()));
  EXPECT_STREQ("link-local", local_address_kind(v4("169.254.169.254").sa()));
  EXPECT_STREQ("link-local", local_address_kind(v6("fe80::1").sa()));
  EXPECT_STREQ("link-local", local_address_kind(v6("febf::1").sa()));
  EXPECT_STREQ("link-local", local_address_kind(v6("::ffff:169.254.1.1").sa()));
  EXPECT_STREQ("unspecified", local_address_kind(v4("0.0.0.0").sa()));
  EXPECT_STREQ("unspecified", local_address_kind(v6("::").sa()));
  EXPECT_STREQ("unspecified", local_address_kind(v6("::ffff:0.0.0.0").sa()));
  for (const char* ip : {"10.0.0.1", "128.0.0.1", "126.255.255.255", "169.253.1.1", "169.255.0.1",
                         "0.0.0.1", "192.168.1.1"})
    EXPECT_EQ(nullptr, local_address_kind(v4(ip).sa())) << ip;
  for (const char* ip : {"fd00::1", "fec0::1", "::2", "2001:db8::1", "::ffff:10.0.0.1"})
    EXPECT_EQ(nullptr, local_address_kind(v6(ip).sa())) << ip;
  EXPECT_EQ(nullptr, local_address_kind(nullptr));
}

TEST(TargetPolicyResolved, EmptyPolicyPermitsAll) {
  TargetPolicy p;
  EXPECT_TRUE(p.permits_resolved("localhost", v4("127.0.0.1").sa(), 22));
  EXPECT_TRUE(p.permits_resolved("metadata", v4("169.254.169.254").sa(), 80));
}

TEST(TargetPolicyResolved, NameRuleRefusesLocalAddresses) {
  TargetPolicy p = policy({"localhost:8080", "*.corp.example", "10.0.0.0/8"});
  for (const char* ip : {"127.0.0.1", "127.0.1.1", "169.254.169.254", "0.0.0.0"})
    EXPECT_FALSE(p.permits_resolved("localhost", v4(ip).sa(), 8080)) << ip;
  for (const char* ip : {"::1", "fe80::1", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254"})
    EXPECT_FALSE(p.permits_resolved("evil.corp.example", v6(ip).sa(), 443)) << ip;
  EXPECT_TRUE(p.permits_resolved("db.corp.example", v4("192.168.5.5").sa(), 443));
  EXPECT_TRUE(p.permits_resolved("db.corp.example", v6("2001:db8::5").sa(), 443));
  EXPECT_TRUE(p.permits_resolved("db.corp.example", v4("10.1.1.1").sa(), 443));
}

TEST(TargetPolicyResolved, AddressRuleAlsoAllowsIt) {
  TargetPolicy p = policy({"localhost", "127.0.0.1:8080", "[::1]:9000", "169.254.0.0/16:80"});
  EXPECT_TRUE(p.permits_resolved("localhost", v4("127.0.0.1").sa(), 8080));
  EXPECT_TRUE(p.permits_resolved("localhost", v6("::ffff:127.0.0.1").sa(), 8080));
  EXPECT_FALSE(p.permits_resolved("localhost", v4("127.0.0.1").sa(), 8081)) << "port outside";
  EXPECT_FALSE(p.permits_resolved("localhost", v4("127.0.0.2").sa(), 8080)) << "other address";
  EXPECT_TRUE(p.permits_resolved("localhost", v6("::1").sa(), 9000));
  EXPECT_FALSE(p.permits_resolved("localhost", v6("::1").sa(), 8080));
  EXPECT_TRUE(p.permits_resolved("localhost", v4("169.254.169.254").sa(), 80));
}

TEST(TargetPolicyResolved, LiteralsWereCheckedByAddress) {
  // An IP-literal target is matched by network rules in permits(); the
  // address it "resolves" to is itself.
  TargetPolicy p = policy({"127.0.0.1:22", "localhost"});
  EXPECT_TRUE(p.permits_resolved("127.0.0.1", v4("127.0.0.1").sa(), 22));
}
