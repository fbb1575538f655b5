// The HELLO/AUTH state machine (src/handshake.{h,cc}) without sockets: two
// Handshakes whose frames are carried by hand.
#include "handshake.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

// Records what the handshake asks of its channel.
struct FakeLink final : Handshake::Link {
  std::vector<std::pair<frame::Type, std::string>> sent;
  std::string binding;
  bool has_binding = true;
  std::string refusal;  // admit() refuses with this unless empty
  bool admit_called = false;
  std::string refused, failed;
  bool up = false;

  void send_handshake(frame::Type type, const std::string& payload) override {
    sent.emplace_back(type, payload);
  }
  bool channel_binding(std::string& out) override {
    out = has_binding ? binding : "";
    return has_binding;
  }
  bool admit(std::string& why) override {
    admit_called = true;
    why = refusal;
    return refusal.empty();
  }
  void refuse(const std::string& why) override { refused = why; }
  void handshake_failed(const std::string& why) override { failed = why; }
  void handshake_done() override { up = true; }
  bool ended() const { return up || !failed.empty() || !refused.empty(); }
};

AuthSettingsPtr keyed(uint8_t fill, const std::string& name = "") {
  auto a = std::make_shared<AuthSettings>();
  a->key = Key(32, fill);
  a->name = name;
  return a;
}

AuthSettingsPtr no_auth() {
  auto a = std::make_shared<AuthSettings>();
  a->enabled = false;
  return a;
}

SessionId session_of(uint8_t fill) {
  SessionId s;
  s.fill(fill);
  return s;
}

// A client and a server handshake with their links.
struct Pair {
  FakeLink client_link, server_link;
  Handshake client, server;
  size_t client_read = 0, server_read = 0;  // frames each side has taken
  std::string err;

  Pair(AuthSettingsPtr client_auth, AuthSettingsPtr server_auth, bool tls = false,
       uint8_t client_features = 0, uint8_t server_features = 0)
      : client(frame::Role::client, tls, std::move(client_auth), session_of(7), "blue", client_link,
               client_features),
        server(frame::Role::server, tls, std::move(server_auth), SessionId{}, "", server_link,
               server_features) {}

  // Feeds one frame to h; false on a protocol error (err).
  static bool feed(Handshake& h, const std::pair<frame::Type, std::string>& f, std::string& err) {
    auto* p = reinterpret_cast<const uint8_t*>(f.second.data());
    if (!h.expects(f.first, err)) return false;
    return f.first == frame::Type::hello ? h.on_hello(p, f.second.size(), err)
                                         : h.on_auth(p, f.second.size(), err);
  }
  // Carries frames both ways until neither side has more, or an error.
  bool run() {
    client.start();
    bool moved = true;
    while (moved) {
      moved = false;
      while (server_read < client_link.sent.size() && !server_link.ended()) {
        if (!feed(server, client_link.sent[server_read++], err)) return false;
        moved = true;
      }
      while (client_read < server_link.sent.size() && !client_link.ended()) {
        if (!feed(client, server_link.sent[client_read++], err)) return false;
        moved = true;
      }
    }
    return true;
  }
};

}  // namespace

TEST(Handshake, SharedKeyBringsBothUp) {
  Pair p(keyed(1), keyed(1));
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_TRUE(p.client_link.up);
  EXPECT_TRUE(p.server_link.up);
  EXPECT_TRUE(p.server_link.admit_called);
  EXPECT_EQ(Handshake::Stage::done, p.server.stage());
  EXPECT_EQ("blue", p.server.peer_tag());
  EXPECT_EQ(session_of(7), p.server.peer_session());
  EXPECT_EQ(Key(32, 1), p.server.proven_key());
  EXPECT_FALSE(p.server.named());
  // HELLO, AUTH from the client; HELLO, AUTH from the server.
  ASSERT_EQ(2u, p.client_link.sent.size());
  ASSERT_EQ(2u, p.server_link.sent.size());
  EXPECT_EQ(frame::Type::auth, p.server_link.sent[1].first);
}

TEST(Handshake, NamedClientKey) {
  auto server = std::make_shared<AuthSettings>();
  server->clients["alice"] = Key(32, 5);
  Pair p(keyed(5, "alice"), server);
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_TRUE(p.server_link.up);
  EXPECT_EQ("alice", p.server.client_name());
  EXPECT_TRUE(p.server.named());
}

TEST(Handshake, WrongKey) {
  Pair p(keyed(1), keyed(2));
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_EQ("wrong key", p.server_link.failed);
  EXPECT_FALSE(p.server_link.up);
  EXPECT_FALSE(p.client_link.up);
  EXPECT_FALSE(p.server_link.admit_called);
  EXPECT_EQ("server closed the channel during authentication: wrong key?", p.client.eof_reason());
}

TEST(Handshake, WrongKeyForName) {
  auto server = std::make_shared<AuthSettings>();
  server->clients["alice"] = Key(32, 5);
  Pair p(keyed(6, "alice"), server);
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_EQ("wrong key for client 'alice'", p.server_link.failed);
  Pair q(keyed(6, "bob"), server);
  ASSERT_TRUE(q.run()) << q.err;
  EXPECT_EQ("no key for client name 'bob'", q.server_link.failed);
}

TEST(Handshake, ClientWithoutKeyIsToldByTheServersHello) {
  Pair p(no_auth(), keyed(1));
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_EQ("client has no key, and this server requires one (AUTH_KEY_FILE)", p.server_link.failed);
  // The server's HELLO still went out, with its AUTH flag: the client knows why.
  ASSERT_EQ(1u, p.server_link.sent.size());
  EXPECT_EQ(frame::Type::hello, p.server_link.sent[0].first);
  EXPECT_EQ("server requires a key: give --key-file", p.client_link.failed);
}

TEST(Handshake, ClientRefusesAServerWithoutAuth) {
  // Downgrade: a server (or impostor) with AUTH = none cannot prove the key.
  Pair p(keyed(1), no_auth());
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_TRUE(p.server_link.up);  // it asks nothing
  EXPECT_FALSE(p.client_link.up);
  EXPECT_EQ("server does not authenticate (AUTH = none); refusing it because it cannot prove it "
            "knows the key",
            p.client_link.failed);
}

TEST(Handshake, NoAuthEitherSide) {
  Pair p(no_auth(), no_auth());
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_TRUE(p.client_link.up);
  EXPECT_TRUE(p.server_link.up);
  EXPECT_TRUE(p.server_link.admit_called);
  EXPECT_EQ(1u, p.client_link.sent.size());
}

TEST(Handshake, AdmissionRefused) {
  Pair p(keyed(1), keyed(1));
  p.server_link.refusal = "tag 'blue' is reserved";
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_EQ("tag 'blue' is reserved", p.server_link.refused);
  EXPECT_FALSE(p.server_link.up);
  // No AUTH answer for a refused client.
  EXPECT_EQ(1u, p.server_link.sent.size());
  Pair q(no_auth(), no_auth());
  q.server_link.refusal = "no";
  ASSERT_TRUE(q.run()) << q.err;
  EXPECT_EQ("no", q.server_link.refused);
  EXPECT_FALSE(q.server_link.up);
}

TEST(Handshake, TlsWithoutBindingFailsClosed) {
  Pair p(keyed(1), keyed(1), true);
  p.client_link.has_binding = false;
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_EQ("TLS channel binding unavailable", p.client_link.failed);
  Pair q(keyed(1), keyed(1), true);
  q.server_link.has_binding = false;
  ASSERT_TRUE(q.run()) << q.err;
  EXPECT_EQ("TLS channel binding unavailable", q.server_link.failed);
}

TEST(Handshake, BindingsMustMatch) {
  Pair p(keyed(1), keyed(1), true);
  p.client_link.binding = std::string(32, 'a');
  p.server_link.binding = std::string(32, 'b');
  ASSERT_TRUE(p.run()) << p.err;
  EXPECT_EQ("wrong key", p.server_link.failed);
}

TEST(Handshake, FramesOutOfOrder) {
  FakeLink link;
  Handshake h(frame::Role::server, false, keyed(1), SessionId{}, "", link);
  std::string err;
  EXPECT_FALSE(h.expects(frame::Type::data, err));
  EXPECT_EQ("expected HELLO, got DATA", err);
  EXPECT_TRUE(h.expects(frame::Type::close, err));
  frame::Auth a;
  std::string payload;
  frame::encode_auth(a, payload);
  EXPECT_FALSE(h.on_auth(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), err));
  EXPECT_EQ("AUTH outside the handshake", err);
  const uint8_t tls_hello[] = {0x16, 0x03, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ("not a tcp-forward peer (a TLS handshake, but this side does not use TLS "
            "(TLS_CERT/TLS_KEY, or drop --tls))",
            h.bad_header_reason(tls_hello, "bad"));
}

TEST(Handshake, WrongVersionOrRole) {
  FakeLink link;
  Handshake h(frame::Role::server, false, keyed(1), SessionId{}, "", link);
  frame::Hello hello;
  hello.role = frame::Role::server;
  std::string payload, err;
  frame::encode_hello(hello, payload);
  EXPECT_FALSE(h.on_hello(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), err));
  EXPECT_EQ("peer announced the wrong role", err);
  EXPECT_TRUE(link.sent.empty());
}

// A feature counts when both HELLOs set it; the server sets only those the
// client asked for, so a client that asks for none sees a HELLO as before.
TEST(Handshake, FeaturesAreThoseBothHellosSet) {
  const uint8_t both = frame::kHelloFlagExpose | frame::kHelloFlagRequests;
  {
    Pair p(keyed(1), keyed(1), false, both, frame::kHelloFlagExpose);
    ASSERT_TRUE(p.run()) << p.err;
    EXPECT_EQ(frame::kHelloFlagExpose, p.client.agreed_features());
    EXPECT_EQ(frame::kHelloFlagExpose, p.server.agreed_features());
    EXPECT_EQ(frame::kHelloFlagAuth | frame::kHelloFlagExpose,
              static_cast<uint8_t>(p.server_link.sent[0].second[7]));
  }
  {
    Pair p(keyed(1), keyed(1), false, 0, both);
    ASSERT_TRUE(p.run()) << p.err;
    EXPECT_EQ(0, p.client.agreed_features());
    EXPECT_EQ(0, p.server.agreed_features());
    EXPECT_EQ(frame::kHelloFlagAuth, static_cast<uint8_t>(p.server_link.sent[0].second[7]));
  }
  {  // a server that speaks none of them (or is older): nothing agreed
    Pair p(no_auth(), no_auth(), false, both, 0);
    ASSERT_TRUE(p.run()) << p.err;
    EXPECT_TRUE(p.client_link.up);
    EXPECT_EQ(0, p.client.agreed_features());
  }
}
