// TlsIo (src/tls_io.{h,cc}) over a socket pair: two SSL objects finish
// their handshake first, then one TlsIo per end runs the records.
#include "tls_io.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "self_signed_cert.h"
#include "tls.h"

namespace {

struct Side final : TlsIo::Owner {
  EvBufferPtr in{evbuffer_new()}, out{evbuffer_new()};
  std::unique_ptr<TlsIo> io;
  std::string received;
  bool eof = false;
  std::string error;

  void on_tls_readable() override {
    size_t got;
    switch (io->read(got)) {
      case ReadResult::data: {
        size_t n = evbuffer_get_length(in.get());
        std::string chunk(n, '\0');
        evbuffer_remove(in.get(), chunk.data(), n);
        received += chunk;
        break;
      }
      case ReadResult::again: break;
      case ReadResult::eof: eof = true; break;
      case ReadResult::error: error = io->error(); break;
    }
  }
  void on_tls_written() override {}
  void on_tls_write_error(const std::string& what) override { error = what; }
  void send(const std::string& s) {
    evbuffer_add(out.get(), s.data(), s.size());
    io->schedule_write();
  }
};

class TlsIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(base);
    SelfSignedCert cert;
    std::string err;
    ASSERT_TRUE(make_self_signed_cert("test", {}, {"127.0.0.1"}, 1, cert, err)) << err;
    server_ctx.reset(SSL_CTX_new(TLS_server_method()));
    client_ctx.reset(SSL_CTX_new(TLS_client_method()));
    ASSERT_TRUE(server_ctx && client_ctx);
    std::unique_ptr<BIO, CFree<BIO_free>> cb(BIO_new_mem_buf(cert.cert_pem.data(), -1));
    std::unique_ptr<X509, CFree<X509_free>> x(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    std::unique_ptr<BIO, CFree<BIO_free>> kb(BIO_new_mem_buf(cert.key_pem.data(), -1));
    std::unique_ptr<EVP_PKEY, CFree<EVP_PKEY_free>> k(
        PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    ASSERT_EQ(1, SSL_CTX_use_certificate(server_ctx.get(), x.get()));
    ASSERT_EQ(1, SSL_CTX_use_PrivateKey(server_ctx.get(), k.get()));
    // As base_ctx() in tls.cc: records are read ahead.
    SSL_CTX_set_read_ahead(server_ctx.get(), 1);
    SSL_CTX_set_read_ahead(client_ctx.get(), 1);
    SSL_CTX_set_default_read_buffer_len(server_ctx.get(), 64u << 10);
    SSL_CTX_set_default_read_buffer_len(client_ctx.get(), 64u << 10);
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    evutil_make_socket_nonblocking(fds[0]);
    evutil_make_socket_nonblocking(fds[1]);
    server_ssl.reset(SSL_new(server_ctx.get()));
    client_ssl.reset(SSL_new(client_ctx.get()));
    SSL_set_fd(server_ssl.get(), fds[0]);
    SSL_set_fd(client_ssl.get(), fds[1]);
    SSL_set_accept_state(server_ssl.get());
    SSL_set_connect_state(client_ssl.get());
    bool s_done = false, c_done = false;
    for (int i = 0; i < 100 && !(s_done && c_done); ++i) {
      if (!s_done) s_done = SSL_do_handshake(server_ssl.get()) == 1;
      if (!c_done) c_done = SSL_do_handshake(client_ssl.get()) == 1;
    }
    ASSERT_TRUE(s_done && c_done) << openssl_error_text();
    server.io = std::make_unique<TlsIo>(base.get(), server_ssl.get(), fds[0], server.in.get(),
                                        server.out.get(), 1u << 20, 1u << 20, server);
    client.io = std::make_unique<TlsIo>(base.get(), client_ssl.get(), fds[1], client.in.get(),
                                        client.out.get(), 1u << 20, 1u << 20, client);
    server.io->set_reading(true);
    client.io->set_reading(true);
    server.io->kick();
    client.io->kick();
  }
  void TearDown() override {
    server.io.reset();
    client.io.reset();
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }

  // Runs the loop until done() or five seconds pass.
  template <class F>
  bool run_until(F done) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      timeval tv{0, 10000};
      event_base_loopexit(base.get(), &tv);
      event_base_loop(base.get(), EVLOOP_ONCE);
    }
    return true;
  }

  EventBasePtr base{event_base_new()};
  SslCtxPtr server_ctx, client_ctx;
  int fds[2] = {-1, -1};
  SslPtr server_ssl, client_ssl;  // declared before the sides: freed after them
  Side server, client;
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + i / 7);
  return s;
}

}  // namespace

// Bulk bytes one way and small writes the other arrive whole and in order.
TEST_F(TlsIoTest, CarriesBytesBothWays) {
  std::string bulk = pattern(5u << 20);
  client.send(bulk);
  for (int i = 0; i < 50; ++i) server.send("reply " + std::to_string(i) + "\n");
  ASSERT_TRUE(run_until([&] { return server.received.size() >= bulk.size() &&
                                     client.received.size() >= 50 * 8; }))
      << server.received.size() << " " << client.received.size();
  EXPECT_TRUE(server.received == bulk);
  EXPECT_EQ(0u, client.received.find("reply 0\nreply 1\n"));
  EXPECT_TRUE(server.error.empty()) << server.error;
  EXPECT_TRUE(client.error.empty()) << client.error;
  EXPECT_EQ(0u, evbuffer_get_length(client.out.get()));
}

// close_notify after data: the data first, then the end.
TEST_F(TlsIoTest, CloseNotifyIsAnEndAfterTheData) {
  client.send("last words");
  ASSERT_TRUE(run_until([&] { return evbuffer_get_length(client.out.get()) == 0; }));
  client.io.reset();
  SSL_shutdown(client_ssl.get());
  ASSERT_TRUE(run_until([&] { return server.eof || !server.error.empty(); }));
  EXPECT_EQ("last words", server.received);
  EXPECT_TRUE(server.eof);
  EXPECT_TRUE(server.error.empty()) << server.error;
}

// Bytes that are no TLS record end the reader with OpenSSL's reason.
TEST_F(TlsIoTest, GarbageIsATlsError) {
  client.io.reset();
  const char junk[] = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(static_cast<ssize_t>(sizeof junk), write(fds[1], junk, sizeof junk));
  ASSERT_TRUE(run_until([&] { return server.eof || !server.error.empty(); }));
  EXPECT_EQ(0u, server.error.rfind("TLS: ", 0)) << server.error;
}

// The peer's socket closes without close_notify: the reader ends (an end
// with tls.cc's SSL_OP_IGNORE_UNEXPECTED_EOF, an error without it).
TEST_F(TlsIoTest, APeerThatGoesAwayEndsTheReader) {
  client.io.reset();
  close(fds[1]);
  fds[1] = -1;
  ASSERT_TRUE(run_until([&] { return server.eof || !server.error.empty(); }));
}
