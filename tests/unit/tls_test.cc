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

}  // namespace

// Channel binding must fail (not return empty keying material) when there
// is no finished TLS handshake, so the tunnel can fail closed.
TEST(ChannelBinding, FailsBeforeTheHandshake) {
  BasePtr base(event_base_new());
  ASSERT_TRUE(base);
  ClientTlsOptions opts;
  opts.enabled = true;
  std::string err;
  SslCtxPtr ctx = make_client_tls(opts, err);
  ASSERT_TRUE(ctx) << err;
  int fds[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
  SSL* ssl = SSL_new(ctx.get());
  ASSERT_NE(nullptr, ssl);
  // The loop never runs, so the handshake never starts.
  BevPtr bev(bufferevent_openssl_socket_new(base.get(), fds[0], ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE));
  ASSERT_TRUE(bev);
  std::string binding = "stale";
  EXPECT_FALSE(tls_channel_binding(bev.get(), binding));
  EXPECT_TRUE(binding.empty());
  close(fds[1]);
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

// tls_read_event() finds the OpenSSL bufferevent's own socket read event
// through public API (the read-ahead nudge needs it); nothing on a plain
// bufferevent.
TEST(TlsReadEvent, FindsTheBuffereventsReadEvent) {
  BasePtr base(event_base_new());
  ASSERT_TRUE(base);
  ClientTlsOptions opts;
  opts.enabled = true;
  std::string err;
  SslCtxPtr ctx = make_client_tls(opts, err);
  ASSERT_TRUE(ctx) << err;
  int fds[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
  // An unrelated event on the same socket must not be taken for it.
  EventPtr other(event_new(base.get(), fds[0], EV_READ | EV_PERSIST, [](evutil_socket_t, short, void*) {},
                           nullptr));
  event_add(other.get(), nullptr);
  SSL* ssl = SSL_new(ctx.get());
  ASSERT_NE(nullptr, ssl);
  BevPtr bev(bufferevent_openssl_socket_new(base.get(), fds[0], ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE));
  ASSERT_TRUE(bev);
  bufferevent_enable(bev.get(), EV_READ | EV_WRITE);
  event* ev = tls_read_event(bev.get());
  ASSERT_NE(nullptr, ev);
  EXPECT_NE(other.get(), ev);
  EXPECT_EQ(fds[0], event_get_fd(ev));
  EXPECT_TRUE(event_get_events(ev) & EV_READ);
  EXPECT_EQ(static_cast<void*>(bev.get()), event_get_callback_arg(ev));
  close(fds[1]);
}

TEST(TlsReadEvent, NoneOnAPlainBufferevent) {
  BasePtr base(event_base_new());
  ASSERT_TRUE(base);
  int fds[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
  BevPtr bev(bufferevent_socket_new(base.get(), fds[0], BEV_OPT_CLOSE_ON_FREE));
  ASSERT_TRUE(bev);
  bufferevent_enable(bev.get(), EV_READ);
  EXPECT_EQ(nullptr, tls_read_event(bev.get()));
  close(fds[1]);
}
