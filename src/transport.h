// The byte pipe under a channel: a plain socket or TLS.
//
// Plain: the socket bufferevent holds the buffers and SocketIo reads and
// writes (socket_io.h). TLS: bufferevent_openssl reads and writes, and
// Transport nudges it when OpenSSL's read-ahead holds records no socket
// event will announce (tls_read_event() in tls.h). Either way the owner sees
// an input and an output evbuffer and four callbacks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "ev.h"
#include "socket_io.h"

class Transport final : private SocketIo::Owner {
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
  evbuffer* input() const { return bufferevent_get_input(bev_.get()); }
  evbuffer* output() const { return bufferevent_get_output(bev_.get()); }
  // Bytes queued in user space. TLS: plaintext not yet given to OpenSSL
  // (which writes each record to the socket at once, keeping at most the
  // one the socket refused).
  size_t queued() const { return bev_ ? evbuffer_get_length(output()) : 0; }
  // Bytes in the kernel's send queue not yet sent (SIOCOUTQNSD), for the
  // flow debug lines; 0 if unknown.
  size_t kernel_unsent() const;
  // Plain: write what was queued later in this loop turn (TLS writes itself).
  void flush_soon() {
    if (io_) io_->schedule_write();
  }
  // Loop time at which bytes last left for the peer (TLS: noticed when
  // asked, from the socket BIO's byte count).
  int64_t last_written_ms();
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
  static void read_cb(bufferevent*, void* arg) noexcept;
  static void write_cb(bufferevent*, void* arg) noexcept;
  static void event_cb(bufferevent*, short what, void* arg) noexcept;
  void on_readable() override;
  void on_written() override;
  void on_write_error(int err) override;
  void on_event(short what);
  // bufferevent_openssl reads only on socket readiness and stops after one
  // record; with read-ahead more may wait inside OpenSSL. Have it read them
  // in this same loop turn.
  void read_buffered_tls() {
    if (ssl_ && reading_ && SSL_has_pending(ssl_)) nudge_tls_read();
  }
  void nudge_tls_read();

  BufferEventPtr bev_;
  std::unique_ptr<SocketIo> io_;  // plain sockets
  event_base* base_;
  Owner& owner_;
  bool tls_;
  size_t low_mark_;
  SSL* ssl_ = nullptr;               // TLS; owned by bev_
  event* tls_read_event_ = nullptr;  // TLS: bev_'s own read event, found when first needed
  bool tls_read_event_searched_ = false;
  bool reading_ = true;  // until finish_writing()
  uint64_t tls_written_ = 0;         // TLS: the socket BIO's count at last_written_ms_
  int64_t last_written_ms_ = 0;
};
