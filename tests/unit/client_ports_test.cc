// [CLIENT_PORTS] grants and the book of exposed ports (src/client_ports.*).
#include "client_ports.h"

#include <gtest/gtest.h>

#include <set>

namespace {

std::vector<PortRange> ranges(const std::string& v) {
  std::vector<PortRange> out;
  std::string err;
  EXPECT_TRUE(parse_port_ranges(v, out, err)) << v << ": " << err;
  return out;
}

std::string range_error(const std::string& v) {
  std::vector<PortRange> out;
  std::string err;
  EXPECT_FALSE(parse_port_ranges(v, out, err)) << v;
  return err;
}

PortGrant grant(const std::string& key, const std::string& v, int max_ports = 0) {
  PortGrant g;
  g.key = key;
  g.ranges = ranges(v);
  g.max_ports = max_ports;
  return g;
}

auto none_held = [](const std::string&) { return size_t{0}; };
auto none_taken = [](uint16_t) { return false; };

}  // namespace

TEST(ClientPorts, ParsesRangesAndSingles) {
  std::vector<PortRange> r = ranges("20000-20099, 5353/udp,22");
  ASSERT_EQ(3u, r.size());
  EXPECT_EQ(20000, r[0].lo);
  EXPECT_EQ(20099, r[0].hi);
  EXPECT_FALSE(r[0].udp);
  EXPECT_FALSE(r[0].single);
  EXPECT_TRUE(r[1].udp);
  EXPECT_TRUE(r[1].single);
  EXPECT_EQ(22, r[2].lo);
  EXPECT_TRUE(r[2].single);
}

TEST(ClientPorts, RangeErrors) {
  EXPECT_NE(std::string::npos, range_error("").find("expected ports or ranges"));
  EXPECT_NE(std::string::npos, range_error("20000-19999").find("LOW above HIGH"));
  EXPECT_NE(std::string::npos, range_error("1000-2000").find("below 1024"));
  EXPECT_NE(std::string::npos, range_error("80/sctp").find("bad protocol"));
  EXPECT_NE(std::string::npos, range_error("x-1").find("bad port or range 'x-1'"));
  EXPECT_NE(std::string::npos, range_error("0").find("bad port"));
  EXPECT_NE(std::string::npos, range_error("1,,2").find("empty item"));
}

TEST(ClientPorts, LowPortsOnlyWhenNamedAlone) {
  PortGrant g = grant("a", "22, 1024-1030");
  EXPECT_TRUE(g.covers(22, false));
  EXPECT_FALSE(g.covers(22, true));
  EXPECT_FALSE(g.covers(80, false));
  EXPECT_TRUE(g.covers(1024, false));
  EXPECT_EQ((std::vector<uint16_t>{22, 1024, 1025, 1026, 1027, 1028, 1029, 1030}), g.ports(false));
  EXPECT_TRUE(g.ports(true).empty());
}

TEST(ClientPorts, GrantsByNameAndTag) {
  ClientPorts cp({grant("alice", "20000-20009"), grant("tag:dev", "21000-21009, 5353/udp")});
  EXPECT_EQ(2u, cp.grants_for({"alice", "dev"}).size());
  EXPECT_EQ(1u, cp.grants_for({"", "dev"}).size());
  EXPECT_EQ(0u, cp.grants_for({"bob", "default"}).size());
  EXPECT_TRUE(cp.may_hold({"alice", "default"}, 20005, false));
  EXPECT_FALSE(cp.may_hold({"alice", "default"}, 21005, false));
  EXPECT_TRUE(cp.may_hold({"", "dev"}, 5353, true));
  EXPECT_FALSE(cp.may_hold({"", "dev"}, 5353, false));
}

TEST(ClientPorts, PlanRefusesWithReasons) {
  ClientPorts cp({grant("alice", "20000-20001", 1)});
  std::mt19937 rng(1);
  ExposePlan p = cp.plan({"bob", "default"}, false, 0, none_held, none_taken, rng);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(1, p.result);
  EXPECT_EQ("no [CLIENT_PORTS] grant for client bob (tag default)", p.why);
  p = cp.plan({"alice", "default"}, false, 30000, none_held, none_taken, rng);
  EXPECT_EQ(1, p.result);
  EXPECT_EQ("port 30000 is not granted to this client", p.why);
  p = cp.plan({"alice", "default"}, true, 0, none_held, none_taken, rng);
  EXPECT_EQ("no udp ports are granted to this client", p.why);
  p = cp.plan({"alice", "default"}, false, 20000, none_held, [](uint16_t port) { return port == 20000; },
              rng);
  EXPECT_EQ(2, p.result);
  EXPECT_EQ("port 20000 is in use", p.why);
  p = cp.plan({"alice", "default"}, false, 0, [](const std::string&) { return size_t{1}; },
              none_taken, rng);
  EXPECT_EQ(3, p.result);
  EXPECT_EQ("MAX_PORTS (1) of grant alice reached", p.why);
  p = cp.plan({"alice", "default"}, false, 0, none_held, [](uint16_t) { return true; }, rng);
  EXPECT_EQ(2, p.result);
  EXPECT_EQ("every port of grant alice is in use", p.why);
}

TEST(ClientPorts, PlanPicksWantedOrFreePortsAtRandom) {
  ClientPorts cp({grant("tag:dev", "21000-21099")});
  std::mt19937 rng(7);
  ExposePlan p = cp.plan({"", "dev"}, false, 21042, none_held, none_taken, rng);
  ASSERT_TRUE(p.ok) << p.why;
  EXPECT_EQ("tag:dev", p.grant);
  EXPECT_EQ(std::vector<uint16_t>{21042}, p.candidates);
  p = cp.plan({"", "dev"}, false, 0, none_held, [](uint16_t port) { return port % 2 == 0; }, rng);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(50u, p.candidates.size());
  std::set<uint16_t> seen(p.candidates.begin(), p.candidates.end());
  EXPECT_EQ(50u, seen.size());
  for (uint16_t port : p.candidates) EXPECT_EQ(1, port % 2);
  // Shuffled: not in ascending order (50 ports; the chance of sorted is nil).
  EXPECT_FALSE(std::is_sorted(p.candidates.begin(), p.candidates.end()));
  // A second grant with room is used when the first is full.
  ClientPorts two({grant("alice", "20000", 1), grant("tag:dev", "21000")});
  p = two.plan({"alice", "dev"}, false, 0,
               [](const std::string& g) { return g == "alice" ? size_t{1} : size_t{0}; },
               none_taken, rng);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ("tag:dev", p.grant);
  EXPECT_EQ(std::vector<uint16_t>{21000}, p.candidates);
}

TEST(ExposureBook, StickyBookkeeping) {
  ExposureBook b;
  b.add(Exposure{"client alice", "alice", false, false, 20001, "127.0.0.1", 8080});
  b.add(Exposure{"client alice", "alice", true, false, 20002, "127.0.0.1", 53});
  b.add(Exposure{"session 00ff", "tag:dev", false, false, 21000, "127.0.0.1", 8080});
  Exposure want{"", "", false, false, 0, "127.0.0.1", 8080};
  const Exposure* e = b.same_request("client alice", want);
  ASSERT_NE(nullptr, e);
  EXPECT_EQ(20001, e->port);
  // The channel has 20001 already: a second SPEC with the same target gets its own.
  EXPECT_EQ(nullptr, b.same_request("client alice", want, {{20001, false}}));
  EXPECT_NE(nullptr, b.same_request("client alice", want, {{20001, true}}));
  want.port = 20009;
  EXPECT_EQ(nullptr, b.same_request("client alice", want));
  want.port = 0;
  want.http = true;
  EXPECT_EQ(nullptr, b.same_request("client alice", want));
  EXPECT_EQ(2u, b.count("client alice", "alice"));
  EXPECT_EQ("session 00ff", b.holder(21000, false)->owner);
  EXPECT_EQ(nullptr, b.holder(21000, true));

  EXPECT_EQ(-1, b.next_expiry(300000));
  b.owner_away("client alice", 1000);
  b.owner_away("client alice", 5000);  // already away: the first time counts
  EXPECT_EQ(301000, b.next_expiry(300000));
  EXPECT_TRUE(b.expired(300999, 300000).empty());
  EXPECT_EQ(2u, b.expired(301000, 300000).size());
  b.back(20001, false);  // asked for again; 20002/udp was not
  ASSERT_EQ(1u, b.expired(999999, 300000).size());
  EXPECT_EQ(20002, b.expired(999999, 300000)[0].port);
  b.back(20002, true);
  EXPECT_TRUE(b.expired(999999, 300000).empty());
  b.remove(20001, false);
  EXPECT_EQ(1u, b.of_owner("client alice").size());
  EXPECT_EQ(2u, b.all().size());
}
