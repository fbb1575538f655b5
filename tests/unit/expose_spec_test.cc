// forward-client --expose SPEC (src/expose_spec.*).
#include "expose_spec.h"

#include <gtest/gtest.h>

namespace {

ExposeSpec parse(const std::string& text) {
  ExposeSpec s;
  std::string err;
  EXPECT_TRUE(parse_expose_spec(text, s, err)) << text << ": " << err;
  return s;
}

std::string error_of(const std::string& text) {
  ExposeSpec s;
  std::string err;
  EXPECT_FALSE(parse_expose_spec(text, s, err)) << text;
  return err;
}

}  // namespace

TEST(ExposeSpec, PortAloneIsLoopbackTcp) {
  ExposeSpec s = parse("8080");
  EXPECT_FALSE(s.udp);
  EXPECT_FALSE(s.http);
  EXPECT_EQ(0, s.public_port);
  EXPECT_EQ("127.0.0.1:8080", s.target_name());
  EXPECT_EQ("tcp://example.org:20001", s.url("example.org", 20001));
}

TEST(ExposeSpec, SchemesAndPublicPort) {
  ExposeSpec u = parse("udp:53");
  EXPECT_TRUE(u.udp);
  EXPECT_EQ("udp://10.0.0.1:5353", u.url("10.0.0.1", 5353));
  ExposeSpec h = parse("http:3000");
  EXPECT_TRUE(h.http);
  EXPECT_FALSE(h.udp);
  EXPECT_EQ("http", h.scheme());
  ExposeSpec t = parse("tcp:20022=192.168.1.5:22");
  EXPECT_EQ(20022, t.public_port);
  EXPECT_EQ("192.168.1.5:22", t.target_name());
  ExposeSpec z = parse("0=localhost:80");
  EXPECT_EQ(0, z.public_port);
  EXPECT_EQ("localhost", z.host);
  ExposeSpec v6 = parse("udp:5353=[::1]:53");
  EXPECT_EQ("[::1]:53", v6.target_name());
  EXPECT_EQ("udp:5353=[::1]:53", v6.text);
}

TEST(ExposeSpec, ClearErrors) {
  EXPECT_NE(std::string::npos, error_of("").find("no target"));
  EXPECT_NE(std::string::npos, error_of("tcp:").find("no target"));
  EXPECT_NE(std::string::npos, error_of("20000=").find("no target"));
  EXPECT_NE(std::string::npos, error_of("70000=80").find("bad public port '70000'"));
  EXPECT_NE(std::string::npos, error_of("x=80").find("bad public port"));
  EXPECT_NE(std::string::npos, error_of("0").find("bad target"));
  EXPECT_NE(std::string::npos, error_of("host:").find("bad target"));
  EXPECT_EQ("sctp", parse("sctp:80").host);  // a host named sctp, not a scheme
  EXPECT_NE(std::string::npos, error_of("http:a:b").find("bad target"));
  std::string e = error_of("99999");
  EXPECT_EQ(0u, e.find("bad SPEC '99999': bad target")) << e;
  EXPECT_NE(std::string::npos, e.find("[tcp:|udp:|http:][PUBLIC_PORT=]PORT or HOST:PORT")) << e;
}
