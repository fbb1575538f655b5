// The byte pipe under a channel: a plain socket or TLS.
//
// Plain: the socket bufferevent holds the buffers and SocketIo reads and
// writes (socket_io.h). TLS: bufferevent_openssl runs the handshake (the
// client's ServerLink, or here on the server); then Transport disables it
// and TlsIo (tls_io.h) runs SSL_read / SSL_write on its SSL and socket,
// with two buffers of Transport's own. Either way the owner sees an input
// and an output evbuffer and four callbacks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "ev.h"
#include "socket_io.h"
#include "tls_io.h"

class Transport final : private SocketIo::Owner, private TlsIo::Owner {
 public:
  // Called from libevent callbacks; each may close the transport.
  class Owner {
   public:
    // New bytes wait in input().
    virtual void transport_readable() = 0;
    // Bytes left and the output is at or under the low mark (after
    // finish_writing(): empty): the owner may queue more.
    virtual void transport_drained() = 0;
    // The peer closed its side.
    virtual void transport_eof() = 0;
    // what: the system's or OpenSSL's error text ("TLS: ..."); reading: a
    // plain socket read failed.
    virtual void transport_error(const std::string& what, bool reading) = 0;

   protected:
    ~Owner() = default;
  };

  // tls: bev is an OpenSSL bufferevent; otherwise a connected socket
  // bufferevent used for its buffers only. low_mark: transport_drained()
  // when the output falls to this many bytes. The socket gets
  // TCP_NOTSENT_LOWAT, so that the kernel holds little unsent data and
  // what the owner queues next goes out soon.
  Transport(BufferEventPtr bev, bool tls, size_t low_mark, Owner& owner);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Starts reading (and TLS writing). handshake_done: a TLS client whose
  // handshake finished before we took over.
  void start(bool handshake_done);
  bool tls() const { return tls_; }
  bool open() const { return bev_ != nullptr; }
  event_base* base() const { return base_; }
  evbuffer* input() const { return tls_ ? in_.get() : bufferevent_get_input(bev_.get()); }
  evbuffer* output() const { return tls_ ? out_.get() : bufferevent_get_output(bev_.get()); }
  // Bytes queued in user space. TLS: plaintext not yet given to OpenSSL;
  // records waiting in TlsIo's buffering BIO for room in the socket (up to
  // 256 KiB, tls_io.cc) are not counted.
  size_t queued() const { return bev_ ? evbuffer_get_length(output()) : 0; }
  // Bytes in the kernel's send queue not yet sent (SIOCOUTQNSD), for the
  // flow debug lines; 0 if unknown.
  size_t kernel_unsent() const;
  // Write what was queued later in this loop turn.
  void flush_soon() {
    if (io_) io_->schedule_write();
    if (tls_io_) tls_io_->schedule_write();
  }
  // Loop time at which bytes last left for the peer.
  int64_t last_written_ms() const { return last_written_ms_; }
  // "TLSv1.3 TLS_AES_128_GCM_SHA256" on TLS, "" on plain sockets.
  std::string tls_summary() const;
  // TLS keying material for the handshake's proofs; empty and true on plain
  // sockets; false on TLS without it (the caller fails closed).
  bool channel_binding(std::string& out) const;
  // Reads nothing more; transport_drained() once the output is empty.
  void finish_writing();
  // Plain: one non-blocking write of what is queued (a last word to the
  // peer). Then shuts the socket down and frees it. Idempotent.
  void close();

 private:
  static void event_cb(bufferevent*, short what, void* arg) noexcept;
  void on_readable() override;
  void on_written() override;
  void on_write_error(int err) override;
  void on_tls_readable() override;
  void on_tls_written() override { on_written(); }
  void on_tls_write_error(const std::string& what) override;
  void on_event(short what);
  // After the TLS handshake: bufferevent_openssl stops, TlsIo takes over.
  void take_over_tls();

  BufferEventPtr bev_;  // TLS: owns the SSL and the socket; idle after the handshake
  std::unique_ptr<SocketIo> io_;  // plain sockets
  EvBufferPtr in_, out_;          // TLS: plaintext
  std::unique_ptr<TlsIo> tls_io_;  // TLS, after the handshake
  event_base* base_;
  Owner& owner_;
  bool tls_;
  size_t low_mark_;
  SSL* ssl_ = nullptr;   // TLS; owned by bev_
  bool reading_ = true;  // until finish_writing()
  int64_t last_written_ms_ = 0;
};
