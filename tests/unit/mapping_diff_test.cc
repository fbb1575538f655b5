#include "mapping_diff.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

Mapping tcp(const std::string& host, uint16_t port, const std::string& target = "10.0.0.1",
            uint16_t target_port = 22) {
  Mapping m;
  m.bind_host = host;
  m.public_port = port;
  m.target_host = target;
  m.target_port = target_port;
  return m;
}

Mapping udp(const std::string& host, uint16_t port) {
  Mapping m = tcp(host, port, "10.0.0.53", 53);
  m.udp = true;
  return m;
}

std::vector<std::string> names(const std::vector<const Mapping*>& v) {
  std::vector<std::string> out;
  for (const Mapping* m : v) out.push_back(m->public_name());
  return out;
}

std::vector<std::string> names(const std::vector<MappingChange>& v) {
  std::vector<std::string> out;
  for (const MappingChange& c : v) out.push_back(c.after->public_name());
  return out;
}

using Names = std::vector<std::string>;

// The diff between {before} and {after} is one change, from before to after.
void only_change(const Mapping& before, const Mapping& after) {
  std::vector<Mapping> a{before}, b{after};
  MappingDiff d = diff_mappings(a, b);
  EXPECT_TRUE(d.keep.empty() && d.add.empty() && d.remove.empty());
  ASSERT_EQ(d.change.size(), 1u);
  EXPECT_EQ(d.change[0].before, &a[0]);
  EXPECT_EQ(d.change[0].after, &b[0]);
}

}  // namespace

TEST(MappingDiff, EmptyToEmpty) {
  MappingDiff d = diff_mappings({}, {});
  EXPECT_TRUE(d.keep.empty() && d.change.empty() && d.add.empty() && d.remove.empty());
}

TEST(MappingDiff, EmptyToSomeAddsAllInOrder) {
  std::vector<Mapping> after{tcp("", 2000), tcp("", 1000), udp("", 53)};
  MappingDiff d = diff_mappings({}, after);
  EXPECT_EQ(names(d.add), (Names{"0.0.0.0:2000", "0.0.0.0:1000", "0.0.0.0:53/udp"}));
  EXPECT_EQ(d.add[0], &after[0]);
  EXPECT_TRUE(d.keep.empty() && d.change.empty() && d.remove.empty());
}

TEST(MappingDiff, SomeToEmptyRemovesAllSortedByName) {
  std::vector<Mapping> before{tcp("", 2000), tcp("", 1000)};
  MappingDiff d = diff_mappings(before, {});
  EXPECT_EQ(names(d.remove), (Names{"0.0.0.0:1000", "0.0.0.0:2000"}));
  EXPECT_EQ(d.remove[0], &before[1]);
  EXPECT_TRUE(d.keep.empty() && d.change.empty() && d.add.empty());
}

TEST(MappingDiff, IdenticalIsKeptWithBothSides) {
  std::vector<Mapping> before{tcp("", 1000)}, after{tcp("", 1000)};
  after[0].file = "other.cfg";  // where it is defined is not a change
  after[0].line = 9;
  MappingDiff d = diff_mappings(before, after);
  ASSERT_EQ(d.keep.size(), 1u);
  EXPECT_EQ(d.keep[0].before, &before[0]);
  EXPECT_EQ(d.keep[0].after, &after[0]);
  EXPECT_TRUE(d.change.empty() && d.add.empty() && d.remove.empty());
}

TEST(MappingDiff, TargetHostIsAChange) {
  only_change(tcp("", 1000), tcp("", 1000, "10.0.0.2"));
}

TEST(MappingDiff, TargetPortIsAChange) {
  only_change(tcp("", 1000, "10.0.0.1", 22), tcp("", 1000, "10.0.0.1", 2222));
}

TEST(MappingDiff, TagIsAChange) {
  Mapping b = tcp("", 1000);
  b.tag = "blue";
  only_change(tcp("", 1000), b);
}

TEST(MappingDiff, MaxConnectionsIsAChange) {
  Mapping b = tcp("", 1000);
  b.max_connections = 5;
  only_change(tcp("", 1000), b);
}

TEST(MappingDiff, RulesAreAChange) {
  Mapping b = tcp("", 1000);
  std::vector<std::string> errors;
  ASSERT_TRUE(parse_cidr_list("10.0.0.0/8", b.access.allow, errors));
  only_change(tcp("", 1000), b);
  Mapping c = b;
  c.access.deny = c.access.allow;
  c.access.allow.clear();
  only_change(b, c);  // the same network, allowed then denied
}

TEST(MappingDiff, TcpAndUdpOnOnePortAreDifferentMappings) {
  std::vector<Mapping> before{tcp("", 53)}, after{udp("", 53)};
  MappingDiff d = diff_mappings(before, after);
  EXPECT_EQ(names(d.remove), (Names{"0.0.0.0:53"}));
  EXPECT_EQ(names(d.add), (Names{"0.0.0.0:53/udp"}));
  EXPECT_TRUE(d.keep.empty() && d.change.empty());

  std::vector<Mapping> both{tcp("", 53), udp("", 53)};
  d = diff_mappings(before, both);
  EXPECT_EQ(names(d.keep), (Names{"0.0.0.0:53"}));
  EXPECT_EQ(names(d.add), (Names{"0.0.0.0:53/udp"}));
}

TEST(MappingDiff, AddressIsPartOfTheKey) {
  std::vector<Mapping> before{tcp("127.0.0.1", 1000), tcp("::1", 1000)};
  std::vector<Mapping> after{tcp("127.0.0.2", 1000), tcp("::1", 1000), tcp("::", 1000)};
  MappingDiff d = diff_mappings(before, after);
  EXPECT_EQ(names(d.keep), (Names{"[::1]:1000"}));
  EXPECT_EQ(names(d.remove), (Names{"127.0.0.1:1000"}));
  EXPECT_EQ(names(d.add), (Names{"127.0.0.2:1000", "[::]:1000"}));
  EXPECT_TRUE(d.change.empty());
}

TEST(MappingDiff, Ipv4AndIpv6WildcardsAreDifferentMappings) {
  std::vector<Mapping> before{tcp("0.0.0.0", 1000)}, after{tcp("::", 1000)};
  MappingDiff d = diff_mappings(before, after);
  EXPECT_EQ(names(d.remove), (Names{"0.0.0.0:1000"}));
  EXPECT_EQ(names(d.add), (Names{"[::]:1000"}));
}

// "" and "0.0.0.0" listen on the same address (one key), but the mapping
// text differs, so the listener stays and the mapping counts as changed.
TEST(MappingDiff, EmptyHostAndIpv4WildcardShareTheListener) {
  only_change(tcp("", 1000), tcp("0.0.0.0", 1000));
}

TEST(MappingDiff, OrderOfEitherListDoesNotMatter) {
  std::vector<Mapping> before{tcp("", 1), tcp("", 2), tcp("", 3, "10.0.0.9"), udp("", 4)};
  std::vector<Mapping> after{tcp("", 5), tcp("", 3), tcp("", 2), udp("", 6)};
  auto sorted = [](Names n) {
    std::sort(n.begin(), n.end());
    return n;
  };
  MappingDiff d1 = diff_mappings(before, after);
  std::vector<Mapping> before2(before.rbegin(), before.rend()), after2 = after;
  std::rotate(after2.begin(), after2.begin() + 1, after2.end());
  MappingDiff d2 = diff_mappings(before2, after2);
  for (const MappingDiff* d : {&d1, &d2}) {
    EXPECT_EQ(sorted(names(d->keep)), (Names{"0.0.0.0:2"}));
    EXPECT_EQ(sorted(names(d->change)), (Names{"0.0.0.0:3"}));
    EXPECT_EQ(sorted(names(d->add)), (Names{"0.0.0.0:5", "0.0.0.0:6/udp"}));
    EXPECT_EQ(names(d->remove), (Names{"0.0.0.0:1", "0.0.0.0:4/udp"}));
  }
}
