// Unit tests for what /metrics shows (src/metrics_report.*), the
// process_* parsers (src/process_stats.*) and the METRICS_* keys.
#include "metrics_report.h"

#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "config.h"
#include "fake_files.h"
#include "process_stats.h"

namespace {

ServerView sample_view() {
  ServerView v;
  v.version = "1.2.3";
  v.started = 1700000000;
  v.channels = 1;
  v.udp_sessions = 2;
  v.sessions_accepted = 3;
  v.sessions_refused = 1;
  v.sessions_failed = 4;
  v.reloads_ok = 2;
  v.reloads_failed = 1;
  v.last_reload_success = 1700000500;
  MappingRow tcp;
  tcp.name = "0.0.0.0:8080";
  tcp.proto = "tcp";
  tcp.live = 5;
  tcp.connections = 7;
  tcp.bytes_in = 1000;
  tcp.bytes_out = 123456789012ull;
  tcp.rejected = {{"rules", 2}, {"no_client", 1}};
  tcp.connect_seconds.observe(0.125);
  tcp.connect_seconds.observe(0.25);
  MappingRow udp;
  udp.name = "[::1]:53/udp";
  udp.proto = "udp";
  udp.live = 2;
  udp.udp_dropped = {{"oversize", 3}};
  udp.bytes_in = 64;
  v.mappings = {tcp, udp};
  ClientRow c;
  c.name = "edge";
  c.session = "a1b2c3d4";
  c.peer = "198.51.100.7:40112";
  c.rtt_ms = 12;
  v.clients = {c};
  StreamRow s;
  s.peer = "203.0.113.9:5555";
  v.streams_rows = {s};
  return v;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l))
    if (l == line) return true;
  return false;
}

}  // namespace

TEST(MetricsReport, ServerSeries) {
  ProcessStats p;
  p.cpu_seconds = 1.5;
  p.resident_bytes = 4096;
  p.open_fds = 9;
  p.max_fds = 1024;
  p.start_time_seconds = 1700000000;
  std::string t = render_server_metrics(sample_view(), p);
  EXPECT_TRUE(has_line(t, "tcpforward_build_info{version=\"1.2.3\"} 1")) << t;
  EXPECT_TRUE(has_line(t, "tcpforward_start_time_seconds 1700000000"));
  EXPECT_TRUE(has_line(t, "tcpforward_clients_connected 1"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_sessions_total{result=\"accepted\"} 3"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_sessions_total{result=\"refused\"} 1"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_sessions_total{result=\"failed\"} 4"));
  EXPECT_TRUE(has_line(t, "tcpforward_channel_rtt_seconds{client=\"edge\",session=\"a1b2c3d4\"} 0.012"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_streams_active{mapping=\"0.0.0.0:8080\",proto=\"tcp\"} 5"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_streams_active{mapping=\"[::1]:53/udp\",proto=\"udp\"} 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_connections_total{mapping=\"0.0.0.0:8080\",proto=\"tcp\"} 7"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_rejected_total{mapping=\"0.0.0.0:8080\",reason=\"rules\"} 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_rejected_total{mapping=\"0.0.0.0:8080\",reason=\"no_client\"} 1"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_bytes_total{mapping=\"0.0.0.0:8080\",direction=\"in\"} 1000"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_bytes_total{mapping=\"0.0.0.0:8080\",direction=\"out\"} 123456789012"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_bytes_total{mapping=\"[::1]:53/udp\",direction=\"in\"} 64"));
  EXPECT_TRUE(has_line(t, "tcpforward_udp_sessions_active 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_udp_datagrams_dropped_total{mapping=\"[::1]:53/udp\",reason=\"oversize\"} 3"));
  EXPECT_TRUE(has_line(t, "tcpforward_config_reloads_total{result=\"success\"} 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_config_reloads_total{result=\"failure\"} 1"));
  EXPECT_TRUE(has_line(t, "tcpforward_config_last_reload_success_timestamp_seconds 1700000500"));
  EXPECT_TRUE(has_line(t, "process_cpu_seconds_total 1.5"));
  EXPECT_TRUE(has_line(t, "process_resident_memory_bytes 4096"));
  EXPECT_TRUE(has_line(t, "process_open_fds 9"));
  EXPECT_TRUE(has_line(t, "process_max_fds 1024"));
  EXPECT_TRUE(has_line(t, "process_start_time_seconds 1700000000"));
}

TEST(MetricsReport, NoPeerAddressesAndEachFamilyOnce) {
  std::string t = render_server_metrics(sample_view(), ProcessStats{});
  EXPECT_EQ(std::string::npos, t.find("203.0.113.9")) << "a public peer's address in a label";
  EXPECT_EQ(std::string::npos, t.find("198.51.100.7")) << "a client's address in a label";
  std::istringstream in(t);
  std::string l;
  std::set<std::string> types;
  while (std::getline(in, l)) {
    if (l.compare(0, 7, "# TYPE ") != 0) continue;
    std::string name = l.substr(7, l.find(' ', 7) - 7);
    EXPECT_TRUE(types.insert(name).second) << "TYPE twice: " << name;
    EXPECT_TRUE(metrics::valid_metric_name(name)) << name;
  }
  // Unknown process figures are left out rather than shown as -1.
  EXPECT_EQ(std::string::npos, t.find("process_open_fds"));
  EXPECT_EQ(std::string::npos, t.find("process_max_fds"));
}

TEST(MetricsReport, DrainingAndNewPortOfOneAddressAreOneSeries) {
  ServerView v = sample_view();
  MappingRow old = v.mappings[0];
  old.state = "draining";
  old.live = 1;
  old.connections = 3;
  old.bytes_out = 12;
  old.rejected = {{"rules", 5}, {"limit", 1}};
  old.connect_seconds = metrics::Histogram(metrics::latency_buckets());
  old.connect_seconds.observe(0.0001);
  v.mappings.push_back(old);
  std::string t = render_server_metrics(v, ProcessStats{});
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_count{mapping=\"0.0.0.0:8080\"} 3")) << t;
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_streams_active{mapping=\"0.0.0.0:8080\",proto=\"tcp\"} 6")) << t;
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_connections_total{mapping=\"0.0.0.0:8080\",proto=\"tcp\"} 10"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_bytes_total{mapping=\"0.0.0.0:8080\",direction=\"out\"} 123456789024"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_rejected_total{mapping=\"0.0.0.0:8080\",reason=\"rules\"} 7"));
  EXPECT_TRUE(has_line(t, "tcpforward_mapping_rejected_total{mapping=\"0.0.0.0:8080\",reason=\"limit\"} 1"));
  std::istringstream in(t);
  std::string l;
  std::set<std::string> seen;
  while (std::getline(in, l)) {
    if (l.empty() || l[0] == '#') continue;
    EXPECT_TRUE(seen.insert(l.substr(0, l.rfind(' '))).second) << "series twice: " << l;
  }
}

TEST(MetricsReport, ServerExportsTheConnectTimesClientsReported) {
  std::string t = render_server_metrics(sample_view(), ProcessStats{});
  EXPECT_TRUE(has_line(t, "# TYPE tcpforward_target_connect_seconds histogram")) << t;
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_count{mapping=\"0.0.0.0:8080\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_bucket{mapping=\"0.0.0.0:8080\",le=\"+Inf\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_sum{mapping=\"0.0.0.0:8080\"} 0.375")) << t;
  EXPECT_EQ(std::string::npos, t.find("tcpforward_target_connect_seconds_count{mapping=\"[::1]:53/udp\"}"))
      << "UDP sessions have no connect time";
}

TEST(MetricsReport, ClientSeries) {
  ClientMetrics c;
  c.version = "1.2.3";
  c.channel_up = true;
  c.channels_up = 2;
  c.reconnects = 5;
  c.rtt_ms = 3;
  c.streams = 4;
  c.streams_total = 10;
  c.bytes_to_targets = 11;
  c.bytes_from_targets = 22;
  c.target_failures = {{"target_refused", 6}};
  c.connect_seconds.observe(0.002);
  c.connect_seconds.observe(0.3);
  std::string t = render_client_metrics(c, ProcessStats{});
  EXPECT_TRUE(has_line(t, "tcpforward_client_channel_up 1")) << t;
  EXPECT_TRUE(has_line(t, "tcpforward_client_channels_total 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_reconnects_total 5"));
  EXPECT_TRUE(has_line(t, "tcpforward_channel_rtt_seconds 0.003"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_streams_active 4"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_streams_total 10"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_bytes_total{direction=\"to_target\"} 11"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_bytes_total{direction=\"from_target\"} 22"));
  EXPECT_TRUE(has_line(t, "tcpforward_client_target_failures_total{reason=\"target_refused\"} 6"));
  EXPECT_TRUE(has_line(t, "# TYPE tcpforward_target_connect_seconds histogram"));
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_bucket{le=\"0.001\"} 0"));
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_bucket{le=\"0.0025\"} 1"));
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_bucket{le=\"0.5\"} 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_bucket{le=\"+Inf\"} 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_count 2"));
  EXPECT_TRUE(has_line(t, "tcpforward_target_connect_seconds_sum 0.302"));
}

TEST(MetricsProcess, ParsesProcSelfStat) {
  // A command name with a space and a ')' in it, as the kernel allows.
  std::string stat =
      "1234 (forward) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 1 0 "
      "10000 123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  ProcessStats p;
  ASSERT_TRUE(parse_proc_self_stat(stat, 100, 4096, 1700000000, p));
  EXPECT_DOUBLE_EQ(3.0, p.cpu_seconds);                   // (250 + 50) / 100
  EXPECT_DOUBLE_EQ(1700000100.0, p.start_time_seconds);   // boot + 10000 / 100
  EXPECT_EQ(123456789u, p.virtual_bytes);
  EXPECT_EQ(300u * 4096u, p.resident_bytes);
  EXPECT_FALSE(parse_proc_self_stat("1234 (x) S 1 2 3", 100, 4096, 0, p));
  EXPECT_FALSE(parse_proc_self_stat("no parenthesis", 100, 4096, 0, p));
}

TEST(MetricsProcess, ParsesBootTimeAndLimits) {
  double bt = 0;
  EXPECT_TRUE(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1699999999\nprocesses 4\n", bt));
  EXPECT_DOUBLE_EQ(1699999999.0, bt);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n", bt));
  int64_t fds = 0;
  EXPECT_TRUE(parse_max_open_files(
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max open files            1024                 524288               files     \n",
      fds));
  EXPECT_EQ(1024, fds);
  EXPECT_FALSE(parse_max_open_files("Max open files            unlimited            unlimited            files\n", fds));
}

TEST(MetricsProcess, ReadsThisProcess) {
  ProcessStats p = read_process_stats();
  EXPECT_GT(p.resident_bytes, 0u);
  EXPECT_GT(p.open_fds, 2);  // stdin, stdout, stderr at least
  EXPECT_GT(p.max_fds, 0);
  EXPECT_GT(p.start_time_seconds, 1e9);
}

namespace {
bool load_text(const std::string& text, ServerConfig& c, std::vector<ConfigError>& errors) {
  // Only the configuration exists (no STATE_FILE, no other file).
  Files fs{{{"/etc/t/forward_server.cfg", text}}, {}};
  return load_server_config("/etc/t/forward_server.cfg", c, errors, fs.reader());
}
}  // namespace

TEST(MetricsConfig, DefaultsOff) {
  ServerConfig c;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(load_text("[DEFAULT]\nAUTH = none\n", c, errors));
  EXPECT_EQ(0, c.metrics_port);
  EXPECT_TRUE(c.metrics_allow.empty());
}

TEST(MetricsConfig, ListenAndAllow) {
  ServerConfig c;
  std::vector<ConfigError> errors;
  ASSERT_TRUE(load_text("[DEFAULT]\nAUTH = none\nMETRICS_LISTEN = [::1]:9712\n"
                        "METRICS_ALLOW = 127.0.0.1/32, 10.0.0.0/8\n",
                        c, errors))
      << (errors.empty() ? "" : errors[0].str());
  EXPECT_EQ("::1", c.metrics_host);
  EXPECT_EQ(9712, c.metrics_port);
  ASSERT_EQ(2u, c.metrics_allow.size());
  EXPECT_EQ("127.0.0.1", c.metrics_allow[0].str());
  EXPECT_EQ("10.0.0.0/8", c.metrics_allow[1].str());
}

TEST(MetricsConfig, BadValuesCiteFileAndLine) {
  for (const char* bad : {"9712", "localhost:9712", "127.0.0.1:0", "127.0.0.1:99999", "1.2.3:80"}) {
    ServerConfig c;
    std::vector<ConfigError> errors;
    EXPECT_FALSE(load_text(std::string("[DEFAULT]\nAUTH = none\nMETRICS_LISTEN = ") + bad + "\n", c,
                           errors));
    ASSERT_EQ(1u, errors.size()) << bad;
    EXPECT_EQ(3, errors[0].line) << bad;
    EXPECT_NE(std::string::npos, errors[0].str().find("/etc/t/forward_server.cfg:3: METRICS_LISTEN: bad value"))
        << errors[0].str();
  }
  ServerConfig c;
  std::vector<ConfigError> errors;
  EXPECT_FALSE(load_text("[DEFAULT]\nAUTH = none\n\nMETRICS_ALLOW = 10.0.0.0/33\n", c, errors));
  ASSERT_EQ(1u, errors.size());
  EXPECT_EQ(4, errors[0].line);
  EXPECT_NE(std::string::npos, errors[0].message.find("METRICS_ALLOW")) << errors[0].str();
}
