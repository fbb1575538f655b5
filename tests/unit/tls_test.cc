// TLS helpers (src/tls.{h,cc}) that need no peer.
#include "tls.h"

#include <gtest/gtest.h>

#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

namespace {

using BevPtr = std::unique_ptr<bufferevent, CFree<bufferevent_free>>;
using BasePtr = std::unique_ptr<event_base, CFree<event_base_free>>;

// A client OpenSSL bufferevent on one end of a socket pair. The loop never
// runs, so the handshake never starts.
struct UnstartedTlsClient {
  BasePtr base{event_base_new()};
  SslCtxPtr ctx;
  int fds[2] = {-1, -1};
  BevPtr bev;

  // Call with ASSERT_NO_FATAL_FAILURE.
  void open() {
    ASSERT_TRUE(base);
    ClientTlsOptions opts;
    opts.enabled = true;
    std::string err;
    ctx = make_client_tls(opts, err);
    ASSERT_TRUE(ctx) << err;
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    SSL* ssl = SSL_new(ctx.get());
    ASSERT_NE(nullptr, ssl);
    bev.reset(bufferevent_openssl_socket_new(base.get(), fds[0], ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE));
    ASSERT_TRUE(bev);
  }
  ~UnstartedTlsClient() {
    if (fds[1] >= 0) close(fds[1]);
  }
};

}  // namespace

// Channel binding must fail (not return empty keying material) when there
// is no finished TLS handshake, so the tunnel can fail closed.
TEST(ChannelBinding, FailsBeforeTheHandshake) {
  UnstartedTlsClient c;
  ASSERT_NO_FATAL_FAILURE(c.open());
  std::string binding = "stale";
  EXPECT_FALSE(tls_channel_binding(c.bev.get(), binding));
  EXPECT_TRUE(binding.empty());
}

TEST(ChannelBinding, FailsOnAPlainBufferevent) {
  BasePtr base(event_base_new());
  ASSERT_TRUE(base);
  BevPtr bev(bufferevent_socket_new(base.get(), -1, BEV_OPT_CLOSE_ON_FREE));
  ASSERT_TRUE(bev);
  std::string binding;
  EXPECT_FALSE(tls_channel_binding(bev.get(), binding));
  EXPECT_TRUE(binding.empty());
}

