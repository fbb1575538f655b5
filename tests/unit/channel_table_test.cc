// A server Tunnel's channel table (src/tunnel.{h,cc}, src/channel.h) on a
// socketpair: the test is the client, writing frames by hand. Ids, unknown
// and closed ids, one exit per channel, counts by kind. Then a client
// Tunnel's: the ids of OPEN and UDP_OPEN.
#include "tunnel.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include <memory>
#include <string>
#include <vector>

namespace {

struct Events {
  int data = 0, datagrams = 0, resets = 0, aborts = 0, ends = 0;
  std::vector<std::string> abort_reasons;
};

// A channel that records what reaches it and ends through one exit.
class FakeChannel final : public Channel {
 public:
  FakeChannel(Tunnel& t, uint32_t id, Kind kind, Events& ev) : Channel(t, id, kind), ev_(ev) {}
  bool on_data(evbuffer* src, size_t n, std::string&) override {
    evbuffer_drain(src, n);
    ++ev_.data;
    return true;
  }
  void on_datagram(const uint8_t*, size_t) override { ++ev_.datagrams; }
  bool on_open_fail(const frame::Failure&, std::string&) override {
    end();
    return true;
  }
  void on_reset(const frame::Failure&) override {
    ++ev_.resets;
    end();
  }
  void abort(const std::string& why) override {
    ++ev_.aborts;
    ev_.abort_reasons.push_back(why);
    end();
  }
  void reset(const std::string&) override { end(); }

 private:
  void end() {
    if (ended_) return;
    ended_ = true;
    ++ev_.ends;
    tunnel_.forget_channel(id_);
  }
  Events& ev_;
  bool ended_ = false;
};

struct Handler final : TunnelHandler {
  int up = 0, closed = 0;
  void tunnel_up(Tunnel&) override { ++up; }
  void tunnel_closed(Tunnel&) override { ++closed; }
};

class ChannelTable : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds_));
    evutil_make_socket_nonblocking(fds_[0]);
    evutil_make_socket_nonblocking(fds_[1]);
    reaper_ = std::make_unique<Reaper>(base_.get());
    auto auth = std::make_shared<AuthSettings>();
    auth->enabled = false;
    TunnelOptions o;
    o.auth = auth;
    o.limits.heartbeat_sec = 0;
    BufferEventPtr bev(bufferevent_socket_new(base_.get(), fds_[0], BEV_OPT_CLOSE_ON_FREE));
    tunnel_ = std::make_unique<Tunnel>(std::move(bev), false, frame::Role::server, "test peer",
                                       handler_, *reaper_, o);
    tunnel_->start();
    frame::Hello hello;
    hello.role = frame::Role::client;
    hello.tag = "default";
    std::string payload;
    frame::encode_hello(hello, payload);
    send(frame::Type::hello, 0, payload);
    ASSERT_TRUE(tunnel_->up());
  }
  void TearDown() override {
    if (tunnel_) tunnel_->close("test over");
    reaper_->reap();
    tunnel_.reset();
    reaper_.reset();
    close(fds_[1]);
  }
  // Writes one frame as the client and lets the loop read it.
  void send(frame::Type type, uint32_t id, const std::string& payload) {
    std::string f;
    frame::encode_frame(type, id, payload, f);
    ASSERT_EQ(static_cast<ssize_t>(f.size()), write(fds_[1], f.data(), f.size()));
    spin();
  }
  void spin() {
    for (int i = 0; i < 10; ++i) event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }
  FakeChannel* add(Channel::Kind kind) {
    uint32_t id = tunnel_->allocate_id();
    return tunnel_->add_channel(std::make_unique<FakeChannel>(*tunnel_, id, kind, ev_));
  }
  static std::string failure(const std::string& text) {
    std::string p;
    frame::encode_failure(frame::Failure{static_cast<uint8_t>(frame::Reason::other), text}, p);
    return p;
  }

  EventBasePtr base_;
  int fds_[2] = {-1, -1};
  Handler handler_;
  Events ev_;
  std::unique_ptr<Reaper> reaper_;
  std::unique_ptr<Tunnel> tunnel_;
};

TEST_F(ChannelTable, IdsGrowAndCountsFollowKinds) {
  FakeChannel* a = add(Channel::Kind::stream);
  FakeChannel* b = add(Channel::Kind::datagram);
  FakeChannel* c = add(Channel::Kind::stream);
  EXPECT_EQ(1u, a->id());
  EXPECT_EQ(2u, b->id());
  EXPECT_EQ(3u, c->id());
  EXPECT_EQ(2u, tunnel_->stream_count());
  EXPECT_EQ(1u, tunnel_->datagram_count());
  send(frame::Type::reset, 2, failure("done"));
  EXPECT_EQ(2u, tunnel_->stream_count());
  EXPECT_EQ(0u, tunnel_->datagram_count());
}

TEST_F(ChannelTable, FramesReachTheirChannelByKind) {
  add(Channel::Kind::stream);
  add(Channel::Kind::datagram);
  send(frame::Type::data, 1, "hello");
  send(frame::Type::datagram, 2, "dgram");
  EXPECT_EQ(1, ev_.data);
  EXPECT_EQ(1, ev_.datagrams);
  EXPECT_TRUE(tunnel_->up());
}

TEST_F(ChannelTable, FramesForAClosedIdAreDropped) {
  add(Channel::Kind::stream);
  send(frame::Type::reset, 1, failure("gone"));
  EXPECT_EQ(1, ev_.resets);
  EXPECT_EQ(0u, tunnel_->stream_count());
  // Frames that crossed the RESET on the wire: dropped, the tunnel stays up.
  send(frame::Type::data, 1, "late");
  send(frame::Type::eof, 1, "");
  send(frame::Type::reset, 1, failure("again"));
  send(frame::Type::datagram, 1, "late");
  EXPECT_EQ(0, ev_.data);
  EXPECT_EQ(1, ev_.resets);
  EXPECT_TRUE(tunnel_->up());
}

TEST_F(ChannelTable, AFrameForANeverOpenedIdClosesTheTunnel) {
  add(Channel::Kind::stream);
  send(frame::Type::data, 7, "x");
  EXPECT_TRUE(tunnel_->closed());
  EXPECT_EQ(1, handler_.closed);
  EXPECT_EQ(1, ev_.aborts) << "the open channel is aborted with the tunnel";
}

TEST_F(ChannelTable, CloseEndsEveryChannelOnce) {
  add(Channel::Kind::stream);
  add(Channel::Kind::datagram);
  add(Channel::Kind::stream);
  tunnel_->close("test: lost");
  tunnel_->close("test: again");
  EXPECT_EQ(3, ev_.aborts);
  EXPECT_EQ(3, ev_.ends);
  EXPECT_EQ(1, handler_.closed);
  for (const auto& why : ev_.abort_reasons) EXPECT_EQ("channel lost: test: lost", why);
  EXPECT_EQ(0u, tunnel_->stream_count() + tunnel_->datagram_count());
}

TEST_F(ChannelTable, OwnedChannelsResetTogether) {
  int tag = 0;
  add(Channel::Kind::stream)->set_owner(&tag);
  add(Channel::Kind::stream);
  add(Channel::Kind::datagram)->set_owner(&tag);
  EXPECT_EQ(2u, tunnel_->abort_channels_owned_by(&tag, "mapping removed"));
  EXPECT_EQ(1u, tunnel_->stream_count());
  EXPECT_EQ(0u, tunnel_->datagram_count());
}

TEST_F(ChannelTable, TheServerRefusesRequest) {
  add(Channel::Kind::stream);
  frame::Request r;
  r.method = "GET";
  std::string p;
  frame::encode_request(r, p);
  send(frame::Type::request, 1, p);
  EXPECT_TRUE(tunnel_->closed()) << "REQUEST sent to the server is a protocol error";
}

TEST_F(ChannelTable, TheServerRefusesOpen) {
  frame::Open open;
  open.window = 65536;
  open.port = 22;
  open.host = "10.0.0.1";
  std::string p;
  frame::encode_open(open, p);
  send(frame::Type::open, 1, p);
  EXPECT_TRUE(tunnel_->closed()) << "OPEN sent to the server is a protocol error";
}

// The client side: a Tunnel with a ChannelOpener, the test playing the
// server. The server's ids come without gaps, so the client can tell an id
// that was closed from one that was never opened.
struct Opener final : ChannelOpener {
  std::vector<uint32_t> ids;
  std::vector<frame::Request> requests;
  void open_requested(Tunnel&, uint32_t id, const frame::Open&) override { ids.push_back(id); }
  void udp_open_requested(Tunnel&, uint32_t id, const frame::UdpOpen&) override { ids.push_back(id); }
  void request_reported(Tunnel&, uint32_t, const frame::Request& r) override { requests.push_back(r); }
};

class ClientChannelTable : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds_));
    evutil_make_socket_nonblocking(fds_[0]);
    evutil_make_socket_nonblocking(fds_[1]);
    reaper_ = std::make_unique<Reaper>(base_.get());
    auto auth = std::make_shared<AuthSettings>();
    auth->enabled = false;
    TunnelOptions o;
    o.auth = auth;
    o.limits.heartbeat_sec = 0;
    o.opener = &opener_;
    o.features = features_;
    BufferEventPtr bev(bufferevent_socket_new(base_.get(), fds_[0], BEV_OPT_CLOSE_ON_FREE));
    tunnel_ = std::make_unique<Tunnel>(std::move(bev), false, frame::Role::client, "test server",
                                       handler_, *reaper_, o);
    tunnel_->start();
    frame::Hello hello;
    hello.role = frame::Role::server;
    hello.flags = server_flags_;
    std::string payload;
    frame::encode_hello(hello, payload);
    send(frame::Type::hello, 0, payload);
    ASSERT_TRUE(tunnel_->up());
  }
  void TearDown() override {
    if (tunnel_) tunnel_->close("test over");
    reaper_->reap();
    tunnel_.reset();
    reaper_.reset();
    close(fds_[1]);
  }
  void send(frame::Type type, uint32_t id, const std::string& payload) {
    std::string f;
    frame::encode_frame(type, id, payload, f);
    ASSERT_EQ(static_cast<ssize_t>(f.size()), write(fds_[1], f.data(), f.size()));
    for (int i = 0; i < 10; ++i) event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }
  void open(uint32_t id) {
    frame::Open o;
    o.window = 65536;
    o.port = 22;
    o.host = "10.0.0.1";
    std::string p;
    frame::encode_open(o, p);
    send(frame::Type::open, id, p);
  }
  void udp_open(uint32_t id) {
    frame::UdpOpen o;
    o.port = 53;
    o.host = "10.0.0.1";
    std::string p;
    frame::encode_udp_open(o, p);
    send(frame::Type::udp_open, id, p);
  }

  uint8_t features_ = 0;      // what the client asks for
  uint8_t server_flags_ = 0;  // what the server's HELLO echoes
  EventBasePtr base_;
  int fds_[2] = {-1, -1};
  Handler handler_;
  Opener opener_;
  std::unique_ptr<Reaper> reaper_;
  std::unique_ptr<Tunnel> tunnel_;
};

TEST_F(ClientChannelTable, OpensTakeTheNextIdOfEitherKind) {
  open(1);
  udp_open(2);
  open(3);
  EXPECT_EQ((std::vector<uint32_t>{1, 2, 3}), opener_.ids);
  // Ids the opener refused (no channel) count as opened and closed.
  send(frame::Type::data, 2, "late");
  EXPECT_TRUE(tunnel_->up());
}

TEST_F(ClientChannelTable, AnOpenThatSkipsAnIdClosesTheTunnel) {
  open(1);
  open(3);  // id 2 never opened: a later frame for it could not be told from a closed one
  EXPECT_TRUE(tunnel_->closed());
  EXPECT_EQ((std::vector<uint32_t>{1}), opener_.ids);
}

TEST_F(ClientChannelTable, AUdpOpenThatSkipsAnIdClosesTheTunnel) {
  udp_open(2);
  EXPECT_TRUE(tunnel_->closed());
  EXPECT_TRUE(opener_.ids.empty());
}

TEST_F(ClientChannelTable, AnOpenThatReusesAnIdClosesTheTunnel) {
  open(1);
  udp_open(1);
  EXPECT_TRUE(tunnel_->closed());
}

// REQUEST frames reach the opener only on a channel that agreed on them.
class ClientRequests : public ClientChannelTable {
 protected:
  ClientRequests() {
    features_ = frame::kHelloFlagRequests;
    server_flags_ = frame::kHelloFlagRequests;
  }
  void request(uint32_t id, const std::string& path) {
    frame::Request r;
    r.status = 404;
    r.bytes = 99;
    r.method = "GET";
    r.path = path;
    r.peer = "203.0.113.7:5000";
    r.mapping = "0.0.0.0:8080";
    std::string p;
    frame::encode_request(r, p);
    send(frame::Type::request, id, p);
  }
};

class ClientRequestsNotAgreed : public ClientChannelTable {
 protected:
  ClientRequestsNotAgreed() { features_ = frame::kHelloFlagRequests; }  // the server does not echo it
};

TEST_F(ClientRequests, ReachTheOpenerForLiveAndClosedStreams) {
  ASSERT_TRUE(tunnel_->has_feature(frame::kHelloFlagRequests));
  open(1);
  request(1, "/a");
  std::string reset;
  frame::encode_failure(frame::Failure{static_cast<uint8_t>(frame::Reason::other), "gone"}, reset);
  send(frame::Type::reset, 1, reset);  // nothing in the table: already forgotten
  request(1, "/b");
  ASSERT_EQ(2u, opener_.requests.size());
  EXPECT_EQ("/a", opener_.requests[0].path);
  EXPECT_EQ(404, opener_.requests[1].status);
  EXPECT_EQ("0.0.0.0:8080", opener_.requests[1].mapping);
  EXPECT_TRUE(tunnel_->up());
}

TEST_F(ClientRequests, ForAnIdNeverOpenedClosesTheTunnel) {
  open(1);
  request(2, "/x");
  EXPECT_TRUE(tunnel_->closed());
  EXPECT_TRUE(opener_.requests.empty());
}

TEST_F(ClientRequests, MalformedClosesTheTunnel) {
  open(1);
  std::string p(20, '\0');  // method length 0
  send(frame::Type::request, 1, p);
  EXPECT_TRUE(tunnel_->closed());
  EXPECT_TRUE(opener_.requests.empty());
}

TEST_F(ClientRequestsNotAgreed, RequestIsAProtocolError) {
  EXPECT_FALSE(tunnel_->has_feature(frame::kHelloFlagRequests));
  open(1);
  frame::Request r;
  r.method = "GET";
  std::string p;
  frame::encode_request(r, p);
  send(frame::Type::request, 1, p);
  EXPECT_TRUE(tunnel_->closed());
  EXPECT_TRUE(opener_.requests.empty());
}

}  // namespace
