// PublicPort's own lifecycle with a fake server: held connections, leases,
// and the drain of a removed port. Uses loopback sockets and a real loop.
#include "public_port.h"

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "loopback.h"

namespace {

struct FakeHost final : PortHost {
  bool room = true;
  uint64_t ids = 0;
  int aborts = 0;
  const void* aborted_owner = nullptr;
  PublicPort* drained = nullptr;

  Tunnel* pick_tunnel(const std::string&) override { return nullptr; }
  bool may_hold() const override { return room; }
  uint64_t next_held_id() override { return ++ids; }
  size_t abort_streams(const void* owner, const std::string&) override {
    ++aborts;
    aborted_owner = owner;
    return 0;
  }
  void port_drained(PublicPort& p) override { drained = &p; }
  RateLimiterPtr client_rate_limit(const Tunnel&) override { return nullptr; }
};

UniqueFd connect_to(uint16_t port) {
  UniqueFd s(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) s.reset();
  return s;
}

// True once the peer closed s (read returns 0 or an error).
bool closed_by_peer(const UniqueFd& s) {
  char c;
  ssize_t n = recv(s.get(), &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

class PublicPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.client_wait_sec = 30;
    mapping_.bind_host = "127.0.0.1";
    mapping_.public_port = free_port();
    mapping_.target_host = "10.0.0.1";
    mapping_.target_port = 22;
    port_ = std::make_unique<PublicPort>(base_.get(), mapping_, config_, host_);
    std::string err;
    ASSERT_TRUE(port_->bind(UdpLimits{}, err)) << err;
  }

  // Runs the loop until done() or about 4 s passed.
  bool run_until(const std::function<bool()>& done) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      usleep(2000);
    }
    return true;
  }

  EventBasePtr base_{event_base_new()};
  ServerConfig config_;
  Mapping mapping_;
  FakeHost host_;
  std::unique_ptr<PublicPort> port_;
};

}  // namespace

TEST_F(PublicPortTest, UnusedRemovedPortGoesAtOnce) {
  EXPECT_FALSE(port_->drain(5));
  EXPECT_FALSE(connect_to(mapping_.public_port));  // not listening any more
}

TEST_F(PublicPortTest, NoRoomToHoldClosesTheConnection) {
  host_.room = false;
  UniqueFd c = connect_to(mapping_.public_port);
  ASSERT_TRUE(c);
  EXPECT_TRUE(run_until([&] { return closed_by_peer(c); }));
  EXPECT_EQ(port_->live(), 0u);
  EXPECT_EQ(port_->held_count(), 0u);
}

TEST_F(PublicPortTest, RemovedPortLivesUntilItsHeldConnectionTimesOut) {
  config_.client_wait_sec = 1;
  UniqueFd c = connect_to(mapping_.public_port);
  ASSERT_TRUE(c);
  ASSERT_TRUE(run_until([&] { return port_->held_count() == 1; }));
  EXPECT_EQ(port_->live(), 1u);
  EXPECT_TRUE(port_->drain(0));  // no DRAIN_TIMEOUT: waits for the lease
  EXPECT_TRUE(run_until([&] { return host_.drained == port_.get(); }));
  EXPECT_EQ(port_->held_count(), 0u);
  EXPECT_EQ(port_->live(), 0u);
  EXPECT_TRUE(closed_by_peer(c));
  EXPECT_EQ(host_.aborts, 0);
}

TEST_F(PublicPortTest, DrainTimeoutResetsStreamsThenWaitsForTheRest) {
  UniqueFd c = connect_to(mapping_.public_port);
  ASSERT_TRUE(c);
  ASSERT_TRUE(run_until([&] { return port_->held_count() == 1; }));
  ASSERT_TRUE(port_->drain(1));
  ASSERT_TRUE(run_until([&] { return host_.aborts == 1; }));
  EXPECT_NE(host_.aborted_owner, nullptr);
  EXPECT_EQ(host_.drained, nullptr);  // the held connection keeps its CLIENT_WAIT
  port_->drop_held();
  EXPECT_TRUE(run_until([&] { return host_.drained == port_.get(); }));
  EXPECT_EQ(host_.aborts, 1);
  EXPECT_TRUE(closed_by_peer(c));
}
