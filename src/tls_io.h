// TLS records on a connected socket after the handshake, driven directly.
//
// bufferevent_openssl reads one record per socket event and copies each
// through its own buffers. TlsIo calls SSL_read and SSL_write on the
// socket the way SocketIo reads and writes a plain one: on readable, SSL_read
// fills large reserved chunks of the input until OpenSSL holds nothing more
// (bounded per wake-up); on a loop turn with new output, SSL_write turns it
// into full records, which a buffering BIO gathers so that they leave in
// a few large writes. WANT_READ / WANT_WRITE crossovers wait for the other
// direction's readiness.
#pragma once

#include <cstddef>
#include <string>

#include <openssl/ssl.h>

#include "ev.h"
#include "socket_reader.h"

class TlsIo {
 public:
  // Told about readiness and progress; any of these may free the TlsIo.
  class Owner {
   public:
    // Records may be waiting: call read().
    virtual void on_tls_readable() = 0;
    // Plaintext left the output (it may be empty now).
    virtual void on_tls_written() = 0;
    // A write failed; what is "TLS: ..." or the system's error text.
    virtual void on_tls_write_error(const std::string& what) = 0;

   protected:
    ~Owner() = default;
  };

  // ssl has finished its handshake on fd, and fd is non-blocking; neither
  // is owned. ssl's write BIO becomes a buffering BIO in front of its socket
  // BIO (freed with ssl). in and out are the plaintext buffers (owned by
  // the caller).
  // max_read: plaintext bytes read per wake-up at most; max_write likewise.
  TlsIo(event_base* base, SSL* ssl, evutil_socket_t fd, evbuffer* in, evbuffer* out,
        size_t max_read, size_t max_write, Owner& owner);
  TlsIo(const TlsIo&) = delete;
  TlsIo& operator=(const TlsIo&) = delete;

  // SSL_read into in until OpenSSL wants the socket, at most max_read
  // bytes; got: bytes appended. ReadResult::eof on close_notify or the end
  // of the socket; ReadResult::error with error() set. An end met after
  // some data is reported by the next read() (the read event is activated).
  ReadResult read(size_t& got);
  // The text of the last read error: "TLS: ..." or the system's.
  const std::string& error() const { return error_; }
  // Whether on_tls_readable() is called while records may be waiting.
  void set_reading(bool on);
  // Data was added to the output: write it later in this loop turn.
  void schedule_write();
  // Right after the handshake: records that came with its end wait inside
  // OpenSSL, where no socket event announces them; read them and write
  // what was queued meanwhile.
  void kick();

 private:
  static void readable_cb(evutil_socket_t, short, void* arg) noexcept;
  static void writable_cb(evutil_socket_t, short, void* arg) noexcept;
  void flush();
  ReadResult report_end();
  // The read event is on while we read or a write waits for the socket's
  // input; the write event while a write or a read waits for its room.
  void update_read_event();
  void arm_write(bool on);
  // SSL_get_error's verdict on a failed call (errno as it left it) -> a
  // text; empty: the peer ended the connection (close_notify or EOF).
  std::string failure_text(int ssl_error, int sys_errno) const;

  SSL* ssl_;
  evbuffer* in_;
  evbuffer* out_;
  size_t max_read_;
  size_t max_write_;
  Owner& owner_;
  EventPtr read_event_;
  EventPtr write_event_;
  bool reading_ = false;
  bool read_added_ = false;
  bool write_armed_ = false;
  bool read_wants_write_ = false;  // SSL_read said WANT_WRITE
  bool write_wants_read_ = false;  // SSL_write said WANT_READ
  size_t retry_len_ = 0;  // an SSL_write to repeat with this many bytes (OpenSSL's rule)
  bool failed_ = false;   // after a fatal error no more SSL calls
  ReadResult end_ = ReadResult::data;  // an end not yet reported (eof or error)
  std::string error_;
};
