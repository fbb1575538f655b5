// ForwardServer, ForwardClient, their Tunnels and Streams in one event loop,
// over loopback: what the integration tests check with two processes, here
// close enough to the objects to name which one broke. Each test runs the
// loop until a condition holds (bounded by a deadline, never timed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "loopback.h"

#include "client.h"
#include "config.h"
#include "control_commands.h"
#include "expose_spec.h"
#include "log.h"
#include "server.h"
#include "unique_fd.h"

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A non-blocking connection to 127.0.0.1:port (in progress or refused).
UniqueFd dial(uint16_t port) {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  sockaddr_in a = loopback(port);
  connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  return s;
}

// The inner target: a listening socket whose connections the test accepts
// and drives by hand.
struct Target {
  UniqueFd listener;
  uint16_t port = 0;
  Target() {
    listener.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    bind(listener.get(), reinterpret_cast<sockaddr*>(&a), len);
    listen(listener.get(), 16);
    getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  UniqueFd accept_one() { return UniqueFd(accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK)); }
};

// What a non-blocking socket has to say: bytes appended to got, and
// whether it ended (EOF) or failed (reset).
struct Reader {
  std::string got;
  bool eof = false;
  int error = 0;
  void poll(int fd) {
    char buf[16384];
    for (int i = 0; i < 64 && !eof && !error; ++i) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        eof = true;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN) error = errno;
        return;
      }
    }
  }
};

// Writes as much of data[off..] as the socket takes.
void push(int fd, const std::string& data, size_t& off) {
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return s;
}

class DaemonPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner_port_ = free_port();
    public_port_ = free_port();
    ASSERT_NE(0, inner_port_);
    ASSERT_NE(0, public_port_);
    key_ = std::make_shared<AuthSettings>();
    key_->key = Key(32, 0x5a);
    start_server(config_text({{public_port_, target_.port}}));
    start_client();
    // A public connection is held until the channel is up, then served.
    Pair probe = open_pair(public_port_);
    ASSERT_TRUE(probe.inner) << "the channel did not come up";
    ASSERT_EQ("up", relay(probe.pub.get(), probe.inner.get(), "up"));
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    // Anything still queued for the reapers runs now.
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }

  std::string config_text(const std::vector<std::pair<uint16_t, uint16_t>>& maps,
                          uint16_t inner_port = 0) {
    std::string text = "[DEFAULT]\nINNER_PORT = " + std::to_string(inner_port ? inner_port : inner_port_) +
                       "\nINNER_ADDR = 127.0.0.1\nAUTH = key\nAUTH_KEY_FILE = pair.key\nCLIENT_WAIT = 30\nDRAIN_TIMEOUT = 30\n[MAPPER]\n";
    for (const auto& m : maps)
      text += "127.0.0.1:" + std::to_string(m.first) + " = 127.0.0.1:" +
              std::to_string(m.second) + "\n";
    return text;
  }

  ServerConfig parse(const std::string& text) {
    ServerConfig c;
    std::vector<ConfigError> errors;
    FileReader reader = [&](const std::string& path, std::string& out, std::string& err) {
      if (path != "pair.cfg") {  // STATE_FILE: none here
        err = "No such file or directory";
        return false;
      }
      out = text;
      return true;
    };
    bool ok = load_server_config("pair.cfg", c, errors, reader);
    EXPECT_TRUE(ok) << (errors.empty() ? std::string("?") : errors.front().message);
    return c;
  }

  ServerSecrets secrets() {
    ServerSecrets s;
    s.auth = key_;
    return s;
  }

  void start_server(const std::string& text) {
    server_ = std::make_unique<ForwardServer>(base_.get(), parse(text), secrets());
    std::string err;
    ASSERT_TRUE(server_->start(err)) << err;
  }

  void start_client(std::vector<ServerAddress> servers = {}) {
    ClientOptions o;
    o.servers = servers.empty() ? std::vector<ServerAddress>{{"127.0.0.1", inner_port_}} : servers;
    o.heartbeat_sec = 0;
    o.retry_min_sec = 1;
    o.retry_max_sec = 1;
    auto auth = std::make_shared<AuthSettings>();
    auth->key = key_->key;
    o.auth = auth;
    client_ = std::make_unique<ForwardClient>(base_.get(), o, [&](int) { client_done_ = true; });
    std::string err;
    ASSERT_TRUE(client_->start(err)) << err;
  }

  // Runs the loop until done() or the deadline (a bound, not a measurement).
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(8)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      event_base_loop(base_.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
      usleep(1000);
    }
    return done();
  }

  // A public connection and the target connection it became.
  struct Pair {
    UniqueFd pub;
    UniqueFd inner;
  };
  Pair open_pair(uint16_t port) {
    Pair p;
    p.pub = dial(port);
    run_until([&] {
      p.inner = target_.accept_one();
      return static_cast<bool>(p.inner);
    });
    return p;
  }

  // Sends `data` from one socket and reads it at the other, in the loop.
  std::string relay(int from, int to, const std::string& data) {
    size_t off = 0;
    Reader r;
    run_until([&] {
      push(from, data, off);
      r.poll(to);
      return r.got.size() >= data.size() || r.eof || r.error;
    });
    return r.got;
  }

  EventBasePtr base_{event_base_new()};
  Target target_;
  uint16_t inner_port_ = 0;
  uint16_t public_port_ = 0;
  std::shared_ptr<AuthSettings> key_;
  std::unique_ptr<ForwardServer> server_;
  std::unique_ptr<ForwardClient> client_;
  bool client_done_ = false;
};

TEST_F(DaemonPairTest, BytesFlowBothWaysByteExact) {
  Pair p = open_pair(public_port_);
  ASSERT_TRUE(p.inner);
  std::string up = pattern(3u << 20, 7);     // more than one stream window
  std::string down = pattern(3u << 20, 11);
  EXPECT_EQ(up, relay(p.pub.get(), p.inner.get(), up));
  EXPECT_EQ(down, relay(p.inner.get(), p.pub.get(), down));
}

// One client, three servers: one that accepts the connection and never
// answers (stuck), and two real ones. Both real channels serve while the
// stuck one is still in its handshake; when one server goes away the other
// goes on serving.
TEST_F(DaemonPairTest, OneClientServesSeveralServersAndAStuckOneDelaysNone) {
  Target stuck;  // listens, never accepts: the client's HELLO goes unanswered
  uint16_t inner2 = free_port(), public2 = free_port();
  ASSERT_NE(0, inner2);
  ASSERT_NE(0, public2);
  auto second = std::make_unique<ForwardServer>(
      base_.get(), parse(config_text({{public2, target_.port}}, inner2)), secrets());
  std::string err;
  ASSERT_TRUE(second->start(err)) << err;
  client_.reset();
  start_client({{"127.0.0.1", stuck.port}, {"127.0.0.1", inner_port_}, {"127.0.0.1", inner2}});
  // Both real channels up, and the first server done with the old client's
  // channel (a connection made before that would go to the old channel).
  ASSERT_TRUE(run_until([&] {
    return second->view(false).channels == 1 && server_->view(false).channels == 1;
  })) << "the real servers' channels did not come up beside the stuck one";

  Pair a = open_pair(public_port_);
  ASSERT_TRUE(a.inner) << "the first real server was delayed";
  EXPECT_EQ("via one", relay(a.pub.get(), a.inner.get(), "via one"));
  Pair b = open_pair(public2);
  ASSERT_TRUE(b.inner) << "the second real server was delayed";
  EXPECT_EQ("via two", relay(b.pub.get(), b.inner.get(), "via two"));
  std::string summary = client_->summary();
  EXPECT_NE(std::string::npos,
            summary.find("connecting to 127.0.0.1:" + std::to_string(stuck.port)))
      << summary;
  EXPECT_NE(std::string::npos,
            summary.find("channel up to 127.0.0.1:" + std::to_string(inner2) + ", tag default"))
      << summary;

  server_.reset();  // the first server goes away; the second still serves
  Pair c = open_pair(public2);
  ASSERT_TRUE(c.inner);
  EXPECT_EQ("still", relay(c.pub.get(), c.inner.get(), "still"));
  EXPECT_EQ("b too", relay(b.inner.get(), b.pub.get(), "b too"));
  client_.reset();
  second.reset();
}

TEST_F(DaemonPairTest, HalfCloseCarriesEofOneWayAndKeepsTheOtherOpen) {
  Pair p = open_pair(public_port_);
  ASSERT_TRUE(p.inner);
  ASSERT_EQ("request", relay(p.pub.get(), p.inner.get(), "request"));
  shutdown(p.pub.get(), SHUT_WR);
  Reader at_target;
  ASSERT_TRUE(run_until([&] {
    at_target.poll(p.inner.get());
    return at_target.eof || at_target.error;
  }));
  EXPECT_TRUE(at_target.eof) << "the target saw an error, not EOF: " << at_target.error;
  // The answer still goes the other way after the public side's EOF.
  std::string answer = pattern(200000, 3);
  EXPECT_EQ(answer, relay(p.inner.get(), p.pub.get(), answer));
  p.inner.reset();  // the target closes: the public side sees EOF
  Reader at_public;
  ASSERT_TRUE(run_until([&] {
    at_public.poll(p.pub.get());
    return at_public.eof || at_public.error;
  }));
  EXPECT_TRUE(at_public.eof);
}

TEST_F(DaemonPairTest, TargetResetResetsThePublicPeerOnly) {
  Pair a = open_pair(public_port_);
  Pair b = open_pair(public_port_);
  ASSERT_TRUE(a.inner);
  ASSERT_TRUE(b.inner);
  linger lg{1, 0};  // close with RST
  setsockopt(a.inner.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  a.inner.reset();
  Reader at_public;
  ASSERT_TRUE(run_until([&] {
    at_public.poll(a.pub.get());
    return at_public.eof || at_public.error;
  }));
  EXPECT_EQ(ECONNRESET, at_public.error) << "the reset arrived as " << (at_public.eof ? "EOF" : "?");
  // The other stream on the same channel is untouched.
  std::string data = pattern(100000, 5);
  EXPECT_EQ(data, relay(b.pub.get(), b.inner.get(), data));
}

TEST_F(DaemonPairTest, LosingTheClientResetsItsPublicConnections) {
  Pair p = open_pair(public_port_);
  ASSERT_TRUE(p.inner);
  ASSERT_EQ("x", relay(p.pub.get(), p.inner.get(), "x"));
  client_.reset();  // the channel's far end is gone at once
  Reader at_public;
  ASSERT_TRUE(run_until([&] {
    at_public.poll(p.pub.get());
    return at_public.eof || at_public.error;
  }));
  EXPECT_EQ(ECONNRESET, at_public.error);
}

// The status signal's flow lines (debug level) say where a stream waits:
// with a target that reads nothing, the server's stream has spent its
// credit and stopped reading, and the client's holds bytes for a full socket.
TEST_F(DaemonPairTest, StatusTellsWhereAStreamWaits) {
  Pair p = open_pair(public_port_);
  ASSERT_TRUE(p.inner);
  std::string data = pattern(16u << 20, 2);  // more than window and socket buffers
  size_t off = 0, last = 0;
  int still = 0;
  // Push until the public socket takes nothing more for a while: the
  // server stopped reading it.
  ASSERT_TRUE(run_until([&] {
    push(p.pub.get(), data, off);
    still = off == last ? still + 1 : 0;
    last = off;
    return still >= 200;
  }, std::chrono::seconds(20))) << "the public side never stopped: " << off << " bytes taken";
  ASSERT_LT(off, data.size());
  LogLevel level = log_get_level();
  log_set_level(LogLevel::debug);
  testing::internal::CaptureStderr();
  server_->log_status();
  client_->poke();
  std::string out = testing::internal::GetCapturedStderr();
  log_set_level(level);
  // stream 1 was the probe of SetUp
  EXPECT_NE(std::string::npos, out.find("stream 2 flow: open, input open, output open; credit 0, "))
      << out;
  EXPECT_NE(std::string::npos, out.find("reading off; peer credit " + std::to_string(TunnelLimits{}.stream_window))) << out;
  EXPECT_NE(std::string::npos, out.find("unwritten, socket full), ")) << out;
  EXPECT_NE(std::string::npos, out.find("0 streams wait for their turn")) << out;
}

TEST_F(DaemonPairTest, ReloadAddsAPortAndRemovedPortsDrainTheirStreams) {
  Pair live = open_pair(public_port_);
  ASSERT_TRUE(live.inner);
  uint16_t added = free_port();
  ASSERT_NE(0, added);
  // Remove the first mapping, add another: the new port serves, the old
  // one stops listening, and its live stream keeps going.
  server_->reload(parse(config_text({{added, target_.port}})), secrets());
  Pair fresh = open_pair(added);
  ASSERT_TRUE(fresh.inner) << "the added port does not serve";
  EXPECT_EQ("new", relay(fresh.pub.get(), fresh.inner.get(), "new"));

  std::string data = pattern(500000, 9);
  EXPECT_EQ(data, relay(live.pub.get(), live.inner.get(), data)) << "the draining stream stopped";

  UniqueFd refused = dial(public_port_);
  Reader r;
  ASSERT_TRUE(run_until([&] {
    r.poll(refused.get());
    return r.eof || r.error;
  }));
  EXPECT_EQ(ECONNREFUSED, r.error) << "the removed port still listens";
}

TEST_F(DaemonPairTest, ReloadThatCannotBindAPortChangesNothing) {
  // Something else holds the port the new configuration adds.
  Target squatter;
  uint16_t added = free_port();
  ASSERT_NE(0, added);
  std::string text = config_text({{added, target_.port}, {squatter.port, target_.port}});
  EXPECT_FALSE(server_->reload(parse(text), secrets()));
  // The running configuration is whole: the old port still serves, the
  // port that could be bound was let go again.
  Pair old_port = open_pair(public_port_);
  ASSERT_TRUE(old_port.inner) << "the old mapping was removed by a refused reload";
  EXPECT_EQ("still", relay(old_port.pub.get(), old_port.inner.get(), "still"));
  UniqueFd refused = dial(added);
  Reader r;
  ASSERT_TRUE(run_until([&] {
    r.poll(refused.get());
    return r.eof || r.error;
  }));
  EXPECT_EQ(ECONNREFUSED, r.error) << "a port of the refused reload listens";
  // Once the port is free the same configuration applies.
  squatter.listener.reset();
  EXPECT_TRUE(server_->reload(parse(text), secrets()));
  Pair fresh = open_pair(added);
  EXPECT_TRUE(fresh.inner);
}

TEST_F(DaemonPairTest, ReloadMovesAPortBetweenTheWildcardAndOneAddress) {
  // 127.0.0.1:P -> 0.0.0.0:P: the new listener can bind only once the old
  // one is gone, so it waits for the removals.
  std::string text = "[DEFAULT]\nINNER_PORT = " + std::to_string(inner_port_) +
                     "\nINNER_ADDR = 127.0.0.1\nAUTH = key\nAUTH_KEY_FILE = pair.key\n"
                     "CLIENT_WAIT = 30\n[MAPPER]\n" +
                     std::to_string(public_port_) + " = 127.0.0.1:" + std::to_string(target_.port) +
                     "\n";
  EXPECT_TRUE(server_->reload(parse(text), secrets()));
  Pair p = open_pair(public_port_);
  ASSERT_TRUE(p.inner) << "the moved mapping does not serve";
  EXPECT_EQ("moved", relay(p.pub.get(), p.inner.get(), "moved"));
}

TEST_F(DaemonPairTest, ControlCommandsAnswerFromTheLiveServer) {
  Pair p = open_pair(public_port_);
  ASSERT_TRUE(p.inner);
  ASSERT_EQ("abc", relay(p.pub.get(), p.inner.get(), "abc"));
  int reloads = 0;
  ServerControl control(*server_, [&] {
    ++reloads;
    return true;
  });
  ControlPeer peer;
  auto ask = [&](const std::string& req) { return nlohmann::json::parse(control.handle(req, peer)); };

  auto clients = ask(R"({"command": "clients"})");
  ASSERT_TRUE(clients["ok"].get<bool>()) << clients.dump();
  ASSERT_EQ(1u, clients["result"].size());
  EXPECT_EQ("default", clients["result"][0]["tag"].get<std::string>());
  auto streams = ask(R"({"command": "streams", "args": []})");
  ASSERT_TRUE(streams["ok"].get<bool>());
  ASSERT_GE(streams["result"].size(), 1u);
  bool found = false;
  for (const auto& s : streams["result"])
    if (s["bytes_in"].get<uint64_t>() == 3) found = true;
  EXPECT_TRUE(found) << "no stream with the 3 bytes sent: " << streams.dump();
  auto mappings = ask(R"({"command": "mappings"})");
  ASSERT_EQ(1u, mappings["result"].size());
  EXPECT_EQ("listening", mappings["result"][0]["state"].get<std::string>());

  EXPECT_TRUE(ask(R"({"command": "reload"})")["ok"].get<bool>());
  EXPECT_EQ(1, reloads);
  auto bad = ask(R"({"command": "kick", "args": ["nobody"]})");
  EXPECT_FALSE(bad["ok"].get<bool>());
  EXPECT_NE(std::string::npos, bad["error"].get<std::string>().find("nobody"));
  EXPECT_FALSE(ask("not json")["ok"].get<bool>());
  EXPECT_FALSE(ask(R"({"command": "frobnicate"})")["ok"].get<bool>());
  EXPECT_FALSE(ask(R"({"command": "log-level", "args": ["loud"]})")["ok"].get<bool>());

  // /ready?mapping=: by port or by the name mappings prints; a client of
  // its tag is up. drain makes it 503; the port still serves.
  std::string body;
  std::string port = std::to_string(public_port_);
  EXPECT_EQ(200, server_->mapping_ready(port, body)) << body;
  EXPECT_EQ(200, server_->mapping_ready("127.0.0.1:" + port, body)) << body;
  EXPECT_EQ(404, server_->mapping_ready(port + "/udp", body)) << body;
  EXPECT_EQ(404, server_->mapping_ready("1", body)) << body;
  auto drained = ask(R"({"command": "drain"})");
  ASSERT_TRUE(drained["ok"].get<bool>()) << drained.dump();
  EXPECT_TRUE(server_->draining());
  EXPECT_EQ(503, server_->mapping_ready(port, body));
  EXPECT_EQ("draining", body);
  Pair after = open_pair(public_port_);
  ASSERT_TRUE(after.inner) << "a draining server still accepts";
  EXPECT_EQ("still", relay(after.pub.get(), after.inner.get(), "still"));

  // kick by the client's address closes its channel and resets its streams.
  std::string peer_addr = clients["result"][0]["peer"].get<std::string>();
  auto kicked = ask(R"({"command": "kick", "args": [")" + peer_addr + R"("]})");
  ASSERT_TRUE(kicked["ok"].get<bool>()) << kicked.dump();
  EXPECT_EQ(1, kicked["result"]["closed"].get<int>());
  Reader at_public;
  ASSERT_TRUE(run_until([&] {
    at_public.poll(p.pub.get());
    return at_public.eof || at_public.error;
  }));
  EXPECT_EQ(ECONNRESET, at_public.error);
  // No client of the tag: not ready.
  EXPECT_EQ(503, server_->mapping_ready(port, body));
}

TEST_F(DaemonPairTest, DisabledMappingRefusesNewConnectionsAndKeepsLiveOnes) {
  Pair live = open_pair(public_port_);
  ASSERT_TRUE(live.inner);
  std::string name = "127.0.0.1:" + std::to_string(public_port_);
  std::string err;
  ASSERT_TRUE(server_->set_enabled(name, false, err)) << err;
  EXPECT_FALSE(server_->set_enabled(name, false, err));  // twice: said so
  EXPECT_NE(std::string::npos, err.find("disabled already")) << err;
  EXPECT_EQ("disabled", server_->view(false).mappings[0].state);
  UniqueFd refused = dial(public_port_);
  Reader r;
  ASSERT_TRUE(run_until([&] {
    r.poll(refused.get());
    return r.eof || r.error;
  }));
  EXPECT_EQ(ECONNREFUSED, r.error) << "a disabled mapping still accepts";
  std::string data = pattern(400000, 4);
  EXPECT_EQ(data, relay(live.pub.get(), live.inner.get(), data)) << "the live stream stopped";
  ASSERT_TRUE(server_->set_enabled(name, true, err)) << err;
  Pair again = open_pair(public_port_);
  EXPECT_TRUE(again.inner) << "the enabled mapping does not serve";
  EXPECT_FALSE(server_->set_enabled("127.0.0.1:1", false, err));
  EXPECT_NE(std::string::npos, err.find("no mapping")) << err;
}

}  // namespace

// PROXY_PROTOCOL: the target reads the header first, then the bytes the
// public peer sent before the target was even connected (early data), then
// more than a stream window each way: the header earns no credit.
TEST_F(DaemonPairTest, ProxyHeaderComesFirstAheadOfEarlyData) {
  for (const std::string version : {"v1", "v2"}) {
    SCOPED_TRACE(version);
    server_->reload(parse(config_text({{public_port_, target_.port}}) +
                          "[RULES]\nPROXY_PROTOCOL = " + version + "\n"),
                    secrets());
    UniqueFd pub = dial(public_port_);
    ASSERT_TRUE(pub);
    const std::string early = "early bytes, sent at once";
    size_t off = 0;
    UniqueFd inner;
    run_until([&] {
      push(pub.get(), early, off);
      inner = target_.accept_one();
      return static_cast<bool>(inner);
    });
    ASSERT_TRUE(inner);
    ASSERT_EQ(early.size(), off);
    sockaddr_in me{};
    socklen_t len = sizeof me;
    ASSERT_EQ(0, getsockname(pub.get(), reinterpret_cast<sockaddr*>(&me), &len));
    uint16_t src_port = ntohs(me.sin_port);
    Reader r;
    auto need = [&](size_t n) {
      run_until([&] {
        r.poll(inner.get());
        return r.got.size() >= n || r.eof || r.error;
      });
      return r.got.size() >= n;
    };
    std::string want;
    if (version == "v1") {
      want = "PROXY TCP4 127.0.0.1 127.0.0.1 " + std::to_string(src_port) + " " +
             std::to_string(public_port_) + "\r\n";
    } else {
      ASSERT_TRUE(need(16 + 12 + 3));
      size_t id_len = static_cast<uint8_t>(r.got[29]) << 8 | static_cast<uint8_t>(r.got[30]);
      ASSERT_TRUE(need(16 + 12 + 3 + id_len));
      std::string id = r.got.substr(31, id_len);
      // session.nonce.stream: 8 hex digits, 8 hex digits, the id.
      EXPECT_EQ(std::string::npos, id.find_first_not_of("0123456789abcdef.")) << id;
      EXPECT_EQ(8u, id.find('.')) << id;
      EXPECT_EQ(17u, id.find('.', 9)) << id;
      size_t n = 12 + 3 + id_len;
      want = std::string("\r\n\r\n\0\r\nQUIT\n\x21\x11", 14);
      for (int b : {static_cast<int>(n >> 8), static_cast<int>(n & 0xff), 127, 0, 0, 1, 127, 0, 0, 1,
                    src_port >> 8, src_port & 0xff, public_port_ >> 8, public_port_ & 0xff, 0x05,
                    static_cast<int>(id_len >> 8), static_cast<int>(id_len & 0xff)})
        want.push_back(static_cast<char>(b));
      want += id;
    }
    want += early;
    ASSERT_TRUE(need(want.size())) << r.got;
    EXPECT_EQ(want, r.got);
    std::string up = pattern(3u << 20, 5), down = pattern(3u << 20, 6);
    EXPECT_EQ(up, relay(pub.get(), inner.get(), up));
    EXPECT_EQ(down, relay(inner.get(), pub.get(), down));
  }
}

// What the console hears (client_events.h): servers named as given, and
// why a channel went down or an attempt failed.
TEST_F(DaemonPairTest, ClientEventsNameTheServerAndTheReason) {
  struct Recorder : ClientEvents {
    std::vector<std::string> seen;
    void channel_up(const std::string& server, const std::string& tls) override {
      seen.push_back("up " + server + " [" + tls + "]");
    }
    void channel_down(const std::string& server, const std::string& why) override {
      seen.push_back("down " + server + ": " + why);
    }
  } events;
  client_->set_events(&events);
  std::string name = "127.0.0.1:" + std::to_string(inner_port_);
  server_.reset();  // the channel ends, then the next attempt is refused
  ASSERT_TRUE(run_until([&] { return events.seen.size() >= 2; }, std::chrono::seconds(5)));
  EXPECT_EQ("down " + name + ": peer closed the channel", events.seen[0]);
  EXPECT_EQ("down " + name + ": cannot connect: Connection refused", events.seen[1]);
  start_server(config_text({{public_port_, target_.port}}));
  ASSERT_TRUE(run_until([&] { return events.seen.back().compare(0, 3, "up ") == 0; },
                        std::chrono::seconds(5)));
  EXPECT_EQ("up " + name + " []", events.seen.back());
  client_->set_events(nullptr);  // events goes before client_
}

// forward-client --expose: the server grants a port of [CLIENT_PORTS] (tag
// default), binds it, and its connections reach the client's own target;
// a port outside the grant is refused with the reason, and the channel and
// the file's mapping go on.
TEST_F(DaemonPairTest, ExposedPortReachesTheClientsTargetAndARefusalStopsNothing) {
  struct Recorder : ClientEvents {
    std::vector<std::string> seen;
    void exposed(const std::string& spec, const std::string& url, const std::string& target) override {
      seen.push_back(spec + " " + url + " -> " + target);
    }
    void expose_refused(const std::string& spec, const std::string& why) override {
      seen.push_back(spec + " refused: " + why);
    }
  } events;
  uint16_t granted = free_port(), other = free_port();
  ASSERT_NE(0, granted);
  ASSERT_NE(0, other);
  client_.reset();
  server_.reset();
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  start_server(config_text({{public_port_, target_.port}}) + "[DEFAULT]\nEXPOSE_ADDR = 127.0.0.1\n" +
               "[CLIENT_PORTS]\ntag:default = " + std::to_string(granted) + "\n");
  ClientOptions o;
  o.servers = {{"127.0.0.1", inner_port_}};
  o.heartbeat_sec = 0;
  o.retry_min_sec = 1;
  o.retry_max_sec = 1;
  auto auth = std::make_shared<AuthSettings>();
  auth->key = key_->key;
  o.auth = auth;
  std::string allow_err;
  ASSERT_TRUE(o.allow.add("192.0.2.1", allow_err)) << allow_err;  // not the exposed target
  for (std::string text : {std::to_string(other) + "=" + std::to_string(target_.port),
                           std::to_string(target_.port)}) {
    ExposeSpec spec;
    std::string err;
    ASSERT_TRUE(parse_expose_spec(text, spec, err)) << err;
    o.expose.push_back(spec);
  }
  client_ = std::make_unique<ForwardClient>(base_.get(), o, [&](int) { client_done_ = true; });
  client_->set_events(&events);
  std::string err;
  ASSERT_TRUE(client_->start(err)) << err;
  ASSERT_TRUE(run_until([&] { return events.seen.size() == 2; })) << events.seen.size();
  std::string target = "127.0.0.1:" + std::to_string(target_.port);
  EXPECT_EQ(std::to_string(other) + "=" + std::to_string(target_.port) + " refused: port " +
                std::to_string(other) + " is not granted to this client",
            events.seen[0]);
  EXPECT_EQ(std::to_string(target_.port) + " tcp://127.0.0.1:" + std::to_string(granted) + " -> " +
                target,
            events.seen[1]);
  Pair p = open_pair(granted);
  ASSERT_TRUE(p.inner) << "no connection through the exposed port";
  EXPECT_EQ("ping", relay(p.pub.get(), p.inner.get(), "ping"));
  EXPECT_EQ("pong", relay(p.inner.get(), p.pub.get(), "pong"));
  // forward-ctl's rows show it, origin the client's session.
  ServerView v = server_->view(false);
  bool listed = false;
  for (const MappingRow& r : v.mappings)
    if (r.name == "127.0.0.1:" + std::to_string(granted))
      listed = r.origin.compare(0, 8, "session ") == 0 && r.target == target;
  EXPECT_TRUE(listed);
  client_.reset();  // before events goes
}
