// forward-ctl's text output and the server's JSON rows.
#include "ctl_format.h"

#include <gtest/gtest.h>

#include "control_commands.h"

using nlohmann::json;

TEST(CtlFormat, TableColumnsAlignToTheWidestCell) {
  std::string t = format_table({"A", "LONG HEADER", "C"}, {{"xxxx", "y", "z"}, {"1", "2", "3333"}});
  EXPECT_EQ(
      "A     LONG HEADER  C\n"
      "xxxx  y            z\n"
      "1     2            3333\n",
      t);
}

TEST(CtlFormat, HumanUnits) {
  EXPECT_EQ("0 B", human_bytes(0));
  EXPECT_EQ("1023 B", human_bytes(1023));
  EXPECT_EQ("1.5 KiB", human_bytes(1536));
  EXPECT_EQ("3.0 MiB", human_bytes(3u << 20));
  EXPECT_EQ("45s", human_duration(45));
  EXPECT_EQ("2m05s", human_duration(125));
  EXPECT_EQ("2h03m", human_duration(2 * 3600 + 3 * 60 + 9));
  EXPECT_EQ("3d01h", human_duration(3 * 86400 + 3600));
  EXPECT_EQ("0s", human_duration(-5));
}

TEST(CtlFormat, ClientsFromTheServersRows) {
  ClientRow r;
  r.name = "";
  r.tag = "site-a";
  r.peer = "192.0.2.7:40112";
  r.session = "6de4ca95";
  r.up_since = 1000;
  r.rtt_ms = 12;
  r.streams = 3;
  r.bytes_in = 2048;
  r.bytes_out = 10;
  json j = clients_json({r}, 1065);
  ASSERT_EQ(1u, j.size());
  EXPECT_EQ(65, j[0]["up_seconds"].get<int>());
  EXPECT_DOUBLE_EQ(0.012, j[0]["rtt_seconds"].get<double>());
  std::string t = format_result("clients", j);
  EXPECT_NE(std::string::npos, t.find("NAME  TAG     PEER")) << t;
  EXPECT_NE(std::string::npos, t.find("-     site-a  192.0.2.7:40112  6de4ca95  plain  1m05s  3")) << t;
  EXPECT_NE(std::string::npos, t.find("2.0 KiB  10 B  12.0 ms")) << t;
  r.rtt_ms = -1;  // not measured: null, shown as "-"
  j = clients_json({r}, 1065);
  EXPECT_TRUE(j[0]["rtt_seconds"].is_null());
  t = format_result("clients", j);
  ASSERT_GE(t.size(), 2u);
  EXPECT_EQ("-\n", t.substr(t.size() - 2)) << t;
}

TEST(CtlFormat, MappingsTotals) {
  MappingRow m;
  m.name = "0.0.0.0:80";
  m.target = "10.0.0.5:80";
  m.tag = "default";
  m.proto = "tcp";
  m.state = "listening";
  m.origin = "f.cfg:9";
  m.live = 3;
  m.connections = 1234;
  m.bytes_in = 2048;
  m.bytes_out = 5u << 20;
  m.rejected = {{"rules", 7}};
  json j = mappings_json({m});
  EXPECT_EQ(1234u, j[0]["connections"].get<uint64_t>());
  EXPECT_EQ(2048u, j[0]["bytes_in"].get<uint64_t>());
  EXPECT_EQ(5u << 20, j[0]["bytes_out"].get<uint64_t>());
  EXPECT_EQ(7u, j[0]["rejected"]["rules"].get<uint64_t>());
  std::string t = format_result("mappings", j);
  EXPECT_NE(std::string::npos, t.find("LIVE  CONNS  IN       OUT      ORIGIN")) << t;
  EXPECT_NE(std::string::npos, t.find("listening  3     1234   2.0 KiB  5.0 MiB  f.cfg:9")) << t;
}

TEST(CtlFormat, MappingsAndStatus) {
  MappingRow m{"0.0.0.0:2222", "192.168.10.5:22", "default", "tcp", "draining", "ports.cfg:3", 2};
  std::string t = format_result("mappings", mappings_json({m}));
  EXPECT_NE(std::string::npos, t.find("0.0.0.0:2222  192.168.10.5:22  tcp    default  draining  2     0      0 B  0 B  ports.cfg:3")) << t;
  ServerView v;
  v.version = "9.9";
  v.config_path = "/etc/x.cfg";
  v.started = 100;
  v.channels = 2;
  v.mappings.push_back(m);
  json s = view_status_json(v, 160);
  EXPECT_EQ(60, s["uptime_seconds"].get<int>());
  EXPECT_TRUE(s["last_reload"].is_null());
  t = format_result("status", s);
  EXPECT_NE(std::string::npos, t.find("uptime:        1m00s")) << t;
  EXPECT_NE(std::string::npos, t.find("last reload:   none yet")) << t;
  EXPECT_NE(std::string::npos, t.find("channels:      2 up, 0 in the handshake")) << t;
}

TEST(CtlFormat, StatusDoesNotCountShadowedRuntimeEntries) {
  ServerView v;
  v.mappings.push_back(MappingRow{"0.0.0.0:22", "10.0.0.1:22", "default", "tcp", "listening", "f.cfg:3", 0});
  v.mappings.push_back(MappingRow{"0.0.0.0:80", "10.0.0.1:80", "default", "tcp", "shadowed", "rt.cfg:5", 0});
  v.mappings.push_back(MappingRow{"0.0.0.0:81", "10.0.0.1:81", "default", "tcp", "draining", "rt.cfg:6", 1});
  EXPECT_EQ(2u, view_status_json(v, 0)["mappings"].get<size_t>());
  std::string t = format_result("mappings", mappings_json(v.mappings));
  EXPECT_NE(std::string::npos,
            t.find("0.0.0.0:80  10.0.0.1:80  tcp    default  shadowed   0     0      0 B  0 B  rt.cfg:5"))
      << t;
}
