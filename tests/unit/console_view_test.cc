// Unit tests for forward-client's console model and renderer
// (src/console_view.*): what each event shows, the bounds on what is kept,
// fitting a screen, and the exit summary.
#include "console_view.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

ConsoleView::Setup setup(size_t max_requests = 50, size_t max_log = 6) {
  ConsoleView::Setup s;
  s.version = "9.9";
  s.tag = "default";
  s.servers = {"relay.example:9000"};
  s.max_requests = max_requests;
  s.max_log_lines = max_log;
  return s;
}

RequestRecord req(const std::string& method, const std::string& path, int status,
                  uint64_t latency_us, uint64_t bytes = 100) {
  RequestRecord r;
  r.method = method;
  r.path = path;
  r.status = status;
  r.latency_us = latency_us;
  r.bytes = bytes;
  r.peer = "203.0.113.9:5121";
  r.mapping = "0.0.0.0:20001";
  return r;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

// The line starting with label, or "" if none.
std::string line_of(const std::vector<std::string>& lines, const std::string& label) {
  for (const std::string& l : lines)
    if (l.compare(0, label.size(), label) == 0) return l;
  return "";
}

TEST(ConsoleView, StatusFollowsTheChannel) {
  ConsoleView v(setup(), 0);
  auto lines = v.render(120, 40, 0);
  EXPECT_NE(line_of(lines, "Session Status").find("connecting"), std::string::npos);
  EXPECT_NE(line_of(lines, "Server").find("relay.example:9000  connecting"), std::string::npos);

  v.channel_up("relay.example:9000", ", TLSv1.3 TLS_AES_256_GCM_SHA384");
  lines = v.render(120, 40, 0);
  EXPECT_NE(line_of(lines, "Session Status").find("online"), std::string::npos);
  EXPECT_NE(line_of(lines, "Server").find("online, TLSv1.3 TLS_AES_256_GCM_SHA384"),
            std::string::npos);

  v.channel_down("relay.example:9000", "heartbeat timeout");
  lines = v.render(120, 40, 0);
  EXPECT_NE(line_of(lines, "Session Status").find("reconnecting (heartbeat timeout)"),
            std::string::npos);

  v.channel_up("relay.example:9000", "");
  lines = v.render(120, 40, 0);
  EXPECT_NE(line_of(lines, "Server").find("online, plain"), std::string::npos);

  v.stopping();
  lines = v.render(120, 40, 0);
  EXPECT_NE(line_of(lines, "Session Status").find("stopping"), std::string::npos);
}

TEST(ConsoleView, OnlineWhileAnyServerIsUp) {
  ConsoleView::Setup s = setup();
  s.servers = {"a:1", "b:2"};
  ConsoleView v(s, 0);
  v.channel_down("a:1", "connection refused");
  v.channel_up("b:2", "");
  auto lines = v.render(120, 40, 0);
  EXPECT_NE(line_of(lines, "Session Status").find("online"), std::string::npos);
  std::string all = joined(lines);
  EXPECT_NE(all.find("Servers             a:1  reconnecting: connection refused"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("b:2  online, plain"), std::string::npos) << all;
}

TEST(ConsoleView, ExposedPortsAndRefusals) {
  ConsoleView v(setup(), 0);
  EXPECT_EQ(line_of(v.render(120, 40, 0), "Forwarding"),
            "Forwarding          the server's mappings of tag default");
  v.exposed("8080", "tcp://relay.example:20001", "127.0.0.1:8080");
  v.expose_refused("udp:53", "not granted");
  std::string all = joined(v.render(120, 40, 0));
  EXPECT_NE(all.find("Forwarding          tcp://relay.example:20001 -> 127.0.0.1:8080"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("                    udp:53: refused: not granted"), std::string::npos)
      << all;
  EXPECT_EQ(all.find("the server's mappings"), std::string::npos);

  // Granted again after a reconnect, and the refused one now granted: one
  // row each, updated in place.
  v.exposed("udp:53", "udp://relay.example:20053", "127.0.0.1:53");
  v.exposed("8080", "tcp://relay.example:20002", "127.0.0.1:8080");
  all = joined(v.render(120, 40, 0));
  EXPECT_EQ(all.find("refused"), std::string::npos) << all;
  EXPECT_EQ(all.find(":20001"), std::string::npos) << all;
  EXPECT_NE(all.find("udp://relay.example:20053 -> 127.0.0.1:53"), std::string::npos) << all;
  EXPECT_NE(all.find("tcp://relay.example:20002 -> 127.0.0.1:8080"), std::string::npos) << all;
}

TEST(ConsoleView, TrafficFromTheMetrics) {
  ConsoleView v(setup(), 0);
  ClientMetrics m;
  m.streams = 2;
  m.streams_total = 15;
  m.bytes_to_targets = 2048;
  m.bytes_from_targets = 3 * 1024 * 1024;
  v.set_metrics(m);
  auto lines = v.render(120, 40, 0);
  EXPECT_EQ(line_of(lines, "Streams"), "Streams             2 open, 15 total");
  EXPECT_EQ(line_of(lines, "Bytes"),
            "Bytes               2.0 KiB to targets, 3.0 MiB from targets");
  EXPECT_EQ(line_of(lines, "Round trip"), "") << "no PING has come back";
  m.rtt_ms = 12;
  v.set_metrics(m);
  EXPECT_EQ(line_of(v.render(120, 40, 0), "Round trip"), "Round trip          12 ms");
}

TEST(ConsoleView, RequestRowsNewestFirst) {
  ConsoleView v(setup(), 0);
  v.request(req("GET", "/index.html", 200, 12300, 1536));
  v.request(req("POST", "/api/login", 404, 850));
  v.request(req("GET", "/slow", 0, 0));
  auto lines = v.render(120, 40, 0);
  std::string all = joined(lines);
  size_t title = all.find("HTTP Requests\n");
  ASSERT_NE(title, std::string::npos) << all;
  size_t slow = all.find("GET     ---"), login = all.find("POST    404      850 us"),
         index = all.find("GET     200     12.3 ms    1.5 KiB  /index.html");
  ASSERT_NE(slow, std::string::npos) << all;
  ASSERT_NE(login, std::string::npos) << all;
  ASSERT_NE(index, std::string::npos) << all;
  EXPECT_LT(title, slow);
  EXPECT_LT(slow, login);
  EXPECT_LT(login, index);
  EXPECT_NE(line_of(lines, "Requests").find("3 (2xx 1, 3xx 0, 4xx 1, 5xx 0, no response 1)"),
            std::string::npos)
      << all;
}

TEST(ConsoleView, RequestRingIsBounded) {
  ConsoleView v(setup(5), 0);
  for (int i = 0; i < 1000; ++i) v.request(req("GET", "/r" + std::to_string(i), 200, 1000));
  EXPECT_EQ(v.requests_kept(), 5u);
  EXPECT_EQ(v.status_classes()[2], 1000u);
  std::string all = joined(v.render(120, 100, 0));
  EXPECT_NE(all.find("/r999\n"), std::string::npos);
  EXPECT_NE(all.find("/r995\n"), std::string::npos);
  EXPECT_EQ(all.find("/r994\n"), std::string::npos) << all;
  EXPECT_NE(all.find("1000 (2xx 1000"), std::string::npos) << all;
}

TEST(ConsoleView, StatusClasses) {
  ConsoleView v(setup(), 0);
  const int statuses[] = {101, 200, 204, 301, 304, 307, 400, 404, 500, 0, 700};
  for (int s : statuses) v.request(req("GET", "/", s, 10));
  const uint64_t* c = v.status_classes();
  EXPECT_EQ(c[0], 2u);  // 0 and 700: no valid response
  EXPECT_EQ(c[1], 1u);
  EXPECT_EQ(c[2], 2u);
  EXPECT_EQ(c[3], 3u);
  EXPECT_EQ(c[4], 2u);
  EXPECT_EQ(c[5], 1u);
  EXPECT_NE(v.summary(0).find("11: 1xx 1, 2xx 2, 3xx 3, 4xx 2, 5xx 1, no response 2"),
            std::string::npos)
      << v.summary(0);
}

TEST(ConsoleView, LatencyMinAvgMaxOfAnsweredRequests) {
  ConsoleView v(setup(), 0);
  EXPECT_NE(v.summary(0).find("latency             -\n"), std::string::npos) << v.summary(0);
  v.request(req("GET", "/a", 200, 2000));
  v.request(req("GET", "/b", 500, 500));
  v.request(req("GET", "/c", 404, 1500000));
  v.request(req("GET", "/d", 0, 9000000));  // no response: not a latency
  std::string s = v.summary(0);
  // (2000 + 500 + 1500000) / 3 = 500833 us
  EXPECT_NE(s.find("latency             min 500 us, avg 500.8 ms, max 1.50 s\n"), std::string::npos)
      << s;
}

TEST(ConsoleView, FitsTheWidth) {
  ConsoleView v(setup(), 0);
  v.exposed("8080", "tcp://a-rather-long-host-name.example.com:20001", "127.0.0.1:8080");
  v.request(req("GET", "/" + std::string(500, 'x'), 200, 1000));
  v.log_line("12:00:00.000 forward-client[notice]: " + std::string(300, 'y'));
  for (size_t width : {10u, 40u, 80u, 200u}) {
    auto lines = v.render(width, 40, 0);
    for (const std::string& l : lines) EXPECT_LE(l.size(), width) << "width " << width << ": " << l;
  }
  auto lines = v.render(40, 40, 0);
  std::string fwd = line_of(lines, "Forwarding");
  EXPECT_EQ(fwd.size(), 40u);
  EXPECT_EQ(fwd.substr(37), "...");
  // The title gets the hint only when it fits.
  EXPECT_NE(v.render(120, 40, 0)[0].find("(Ctrl+C to quit)"), std::string::npos);
  EXPECT_EQ(v.render(120, 40, 0)[0].size(), 120u);
  EXPECT_EQ(v.render(40, 40, 0)[0].find("Ctrl+C"), std::string::npos);
}

TEST(ConsoleView, FitCountsCodePoints) {
  std::string s = "caf\xc3\xa9 \xc3\xa9t\xc3\xa9";  // "café été": 8 columns, 11 bytes
  EXPECT_EQ(console_fit(s, 8), s);
  EXPECT_EQ(console_fit(s, 7), "caf\xc3\xa9...");
  EXPECT_EQ(console_fit(s, 3), "caf");
}

TEST(ConsoleView, FitsTheHeight) {
  ConsoleView v(setup(50, 6), 0);
  for (int i = 0; i < 30; ++i) v.request(req("GET", "/r" + std::to_string(i), 200, 1000));
  for (int i = 0; i < 6; ++i) v.log_line("log " + std::to_string(i));
  // Head: title, blank, status, server, tag, uptime, forwarding, streams,
  // bytes, requests = 10 lines.
  auto full = v.render(120, 100, 0);
  EXPECT_EQ(full.size(), 10u + 2 + 30 + 2 + 6);
  auto lines = v.render(120, 24, 0);
  ASSERT_EQ(lines.size(), 24u);
  std::string all = joined(lines);
  // The log keeps its lines; the requests take the rest, newest first.
  EXPECT_NE(all.find("log 0\n"), std::string::npos) << all;
  EXPECT_NE(all.find("log 5\n"), std::string::npos) << all;
  EXPECT_NE(all.find("/r29\n"), std::string::npos) << all;
  EXPECT_NE(all.find("/r26\n"), std::string::npos) << all;
  EXPECT_EQ(all.find("/r25\n"), std::string::npos) << all;
  // Too short for both: one request row, then the newest log lines.
  lines = v.render(120, 16, 0);
  ASSERT_EQ(lines.size(), 16u);
  all = joined(lines);
  EXPECT_NE(all.find("/r29\n"), std::string::npos) << all;
  EXPECT_EQ(all.find("/r28\n"), std::string::npos) << all;
  EXPECT_NE(all.find("log 5\n"), std::string::npos) << all;
  EXPECT_EQ(all.find("log 4\n"), std::string::npos) << all;
  // Shorter than the head: the head, cut.
  EXPECT_EQ(v.render(120, 5, 0).size(), 5u);
  EXPECT_TRUE(v.render(120, 0, 0).empty());
}

TEST(ConsoleView, LogLinesAreBounded) {
  ConsoleView v(setup(50, 3), 0);
  for (int i = 0; i < 100; ++i) v.log_line("line " + std::to_string(i));
  std::string all = joined(v.render(120, 40, 0));
  EXPECT_NE(all.find("Log\nline 97\nline 98\nline 99\n"), std::string::npos) << all;
  EXPECT_EQ(all.find("line 96"), std::string::npos);
}

TEST(ConsoleView, CleansWhatReachesTheTerminal) {
  EXPECT_EQ(console_clean("a\x1b[2Jb"), "a?[2Jb");
  EXPECT_EQ(console_clean("tab\there\r\n"), "tab?here??");
  EXPECT_EQ(console_clean("del\x7f"), "del?");
  EXPECT_EQ(console_clean("c1 \xc2\x9b" "31m"), "c1 ?31m");  // U+009B, CSI
  EXPECT_EQ(console_clean("bad \xff\xc3"), "bad ??");
  EXPECT_EQ(console_clean("overlong \xc0\xaf"), "overlong ??");
  EXPECT_EQ(console_clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  ConsoleView v(setup(), 0);
  v.request(req("GET", "/\x1b]0;pwned\x07", 200, 1));
  v.expose_refused("8080", "no\x1b[31m");
  v.log_line("x\x1b[H");
  for (const std::string& l : v.render(200, 40, 0))
    EXPECT_EQ(l.find('\x1b'), std::string::npos) << l;
}

TEST(ConsoleView, Summary) {
  ConsoleView v(setup(), 1000);
  ClientMetrics m;
  m.streams = 1;
  m.streams_total = 42;
  m.bytes_to_targets = 1234;
  m.bytes_from_targets = 5 * 1024 * 1024;
  v.set_metrics(m);
  v.request(req("GET", "/", 200, 1000));
  v.request(req("GET", "/x", 302, 3000));
  EXPECT_EQ(v.summary(1000 + 3723 * 1000),
            "forward-client: session summary\n"
            "  uptime              1h02m03s\n"
            "  streams             42 (1 open at exit)\n"
            "  bytes to targets    1234 (1.2 KiB)\n"
            "  bytes from targets  5242880 (5.0 MiB)\n"
            "  requests            2: 2xx 1, 3xx 1, 4xx 0, 5xx 0\n"
            "  latency             min 1.0 ms, avg 2.0 ms, max 3.0 ms\n");
  ConsoleView quiet(setup(), 0);
  EXPECT_NE(quiet.summary(59000).find("uptime              59s\n"), std::string::npos);
  EXPECT_NE(quiet.summary(59000).find("requests            0\n"), std::string::npos);
}

TEST(ConsoleView, Latency) {
  EXPECT_EQ(console_latency(0), "0 us");
  EXPECT_EQ(console_latency(999), "999 us");
  EXPECT_EQ(console_latency(1000), "1.0 ms");
  EXPECT_EQ(console_latency(12345), "12.3 ms");
  EXPECT_EQ(console_latency(2500000), "2.50 s");
}

}  // namespace
