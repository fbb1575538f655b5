// config_warnings: ALLOW rules that can never admit a peer of the
// listener's address family.
#include "config_warnings.h"

#include <string>

#include <gtest/gtest.h>

namespace {

Mapping mapping(const std::string& bind, const std::string& allow) {
  Mapping m;
  m.bind_host = bind;
  m.public_port = 2222;
  m.target_host = "192.168.10.5";
  m.target_port = 22;
  m.file = "ports.cfg";
  m.line = 7;
  std::vector<std::string> errors;
  EXPECT_TRUE(parse_cidr_list(allow, m.access.allow, errors));
  return m;
}

TEST(ConfigWarnings, Ipv6MappingWithOnlyIpv4AllowIsReported) {
  ServerConfig c;
  c.mappings.push_back(mapping("", "198.51.100.0/24"));
  c.mappings.push_back(mapping("2001:db8::1", "198.51.100.0/24"));
  auto w = config_warnings(c);
  ASSERT_EQ(1u, w.size());
  EXPECT_EQ("ports.cfg", w[0].file);
  EXPECT_EQ(7, w[0].line);
  EXPECT_NE(std::string::npos, w[0].message.find("[2001:db8::1]:2222 listens on IPv6"))
      << w[0].message;
  EXPECT_NE(std::string::npos, w[0].message.find("every peer is refused")) << w[0].message;
}

TEST(ConfigWarnings, Ipv4MappingWithOnlyIpv6AllowIsReported) {
  ServerConfig c;
  c.mappings.push_back(mapping("127.0.0.1", "fd00::/8"));
  auto w = config_warnings(c);
  ASSERT_EQ(1u, w.size());
  EXPECT_NE(std::string::npos, w[0].message.find("listens on IPv4")) << w[0].message;
}

TEST(ConfigWarnings, RulesThatCanAdmitSomeoneAreFine) {
  ServerConfig c;
  c.mappings.push_back(mapping("2001:db8::1", "198.51.100.0/24, 2001:db8:100::/48"));
  c.mappings.push_back(mapping("", "10.0.0.0/8"));
  c.mappings.push_back(mapping("::1", ""));  // no ALLOW: everyone
  // An IPv4-mapped rule is an IPv4 rule.
  c.mappings.push_back(mapping("0.0.0.0", "::ffff:10.0.0.0/104"));
  EXPECT_TRUE(config_warnings(c).empty());
}

}  // namespace
