#include "tls_io.h"

#include <cerrno>

#include <openssl/err.h>

#include "tls.h"

namespace {
// Plaintext per reserved input chunk: about four full records, so one
// evbuffer chain per read-ahead buffer of OpenSSL (tls.cc).
constexpr size_t kReadChunk = 64u << 10;
// One full record's plaintext per SSL_write: small frames are coalesced into
// it, and a record never waits for bytes that are not queued yet.
constexpr size_t kRecord = 16u << 10;
// Records are gathered in a buffering BIO and leave in writes of up to this
// much, instead of one system call per 16 KiB record.
constexpr int kWriteBatch = 256 << 10;
}  // namespace

TlsIo::TlsIo(event_base* base, SSL* ssl, evutil_socket_t fd, evbuffer* in, evbuffer* out,
             size_t max_read, size_t max_write, Owner& owner)
    : ssl_(ssl),
      in_(in),
      out_(out),
      max_read_(max_read),
      max_write_(max_write),
      owner_(owner),
      read_event_(event_new(base, fd, EV_READ | EV_PERSIST, readable_cb, this)),
      write_event_(event_new(base, fd, EV_WRITE | EV_PERSIST, writable_cb, this)) {
  // evbuffer_pullup() may move the bytes of a write OpenSSL must repeat
  // (bufferevent_openssl set this mode already; say so here too).
  SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // The socket BIO stays SSL's read BIO; a buffering BIO in front of it
  // becomes the write BIO (and holds its own reference to it). flush()
  // empties it at the end of every burst. Without memory it stays direct.
  BIO* sock = SSL_get_wbio(ssl_);
  BIO* batch = BIO_new(BIO_f_buffer());
  if (batch && sock && BIO_set_write_buffer_size(batch, kWriteBatch) == 1 && BIO_up_ref(sock) == 1) {
    BIO_push(batch, sock);
    SSL_set0_wbio(ssl_, batch);
  } else {
    BIO_free(batch);
    ERR_clear_error();
  }
}

void TlsIo::set_reading(bool on) {
  reading_ = on;
  update_read_event();
}

void TlsIo::update_read_event() {
  bool want = !failed_ && (reading_ || write_wants_read_);
  if (want == read_added_) return;
  read_added_ = want;
  if (want)
    event_add(read_event_.get(), nullptr);
  else
    event_del(read_event_.get());
}

void TlsIo::arm_write(bool on) {
  if (on == write_armed_) return;
  write_armed_ = on;
  if (on)
    event_add(write_event_.get(), nullptr);
  else
    event_del(write_event_.get());
}

void TlsIo::schedule_write() {
  // While armed, EPOLLOUT brings us back; an active event is not queued twice.
  if (write_armed_ || write_wants_read_ || failed_) return;
  event_active(write_event_.get(), EV_WRITE, 0);
}

void TlsIo::kick() {
  if (reading_) event_active(read_event_.get(), EV_READ, 0);
  schedule_write();
}

void TlsIo::readable_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* io = static_cast<TlsIo*>(arg);
  if (io->write_wants_read_) {
    io->write_wants_read_ = false;
    io->update_read_event();
    io->schedule_write();
  }
  if (io->reading_ || io->end_ != ReadResult::data) io->owner_.on_tls_readable();  // may free io
}

void TlsIo::writable_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* io = static_cast<TlsIo*>(arg);
  if (io->read_wants_write_) {
    io->read_wants_write_ = false;
    if (io->reading_) event_active(io->read_event_.get(), EV_READ, 0);
  }
  io->flush();
}

std::string TlsIo::failure_text(int ssl_error, int sys_errno) const {
  switch (ssl_error) {
    case SSL_ERROR_ZERO_RETURN: return "";
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() != 0) return "TLS: " + tls_error_text(ssl_);
      return sys_errno ? evutil_socket_error_to_string(sys_errno) : "";
    case SSL_ERROR_SSL: return "TLS: " + tls_error_text(ssl_);
    default: return "TLS: unexpected SSL_get_error " + std::to_string(ssl_error);
  }
}

ReadResult TlsIo::read(size_t& got) {
  got = 0;
  if (end_ != ReadResult::data) return report_end();
  ERR_clear_error();
  int err = SSL_ERROR_NONE;
  int sys_errno = 0;
  bool drained = false;
  while (got < max_read_ && err == SSL_ERROR_NONE && !drained) {
    evbuffer_iovec v;
    if (evbuffer_reserve_space(in_, kReadChunk, &v, 1) < 1) {
      error_ = evutil_socket_error_to_string(ENOMEM);
      err = SSL_ERROR_SSL;
      break;
    }
    size_t filled = 0;
    while (filled < v.iov_len) {
      size_t n = 0;
      errno = 0;
      int r = SSL_read_ex(ssl_, static_cast<char*>(v.iov_base) + filled, v.iov_len - filled, &n);
      if (r == 1) {
        filled += n;
        // Nothing left inside OpenSSL: back to the loop rather than a read
        // that finds the socket empty (a request/response pays it on each).
        if (!SSL_has_pending(ssl_)) {
          drained = true;
          break;
        }
        continue;
      }
      sys_errno = errno;
      err = SSL_get_error(ssl_, r);
      break;
    }
    v.iov_len = filled;
    evbuffer_commit_space(in_, &v, filled ? 1 : 0);
    got += filled;
  }
  switch (err) {
    case SSL_ERROR_NONE:
      // Drained, or the budget is spent: records OpenSSL holds have no
      // socket event.
      if (SSL_has_pending(ssl_)) event_active(read_event_.get(), EV_READ, 0);
      break;
    case SSL_ERROR_WANT_READ: break;
    case SSL_ERROR_WANT_WRITE:  // a post-handshake message to answer
      read_wants_write_ = true;
      arm_write(true);
      break;
    default:
      if (error_.empty()) error_ = failure_text(err, sys_errno);
      end_ = error_.empty() ? ReadResult::eof : ReadResult::error;
      failed_ = err != SSL_ERROR_ZERO_RETURN;
      if (failed_) arm_write(false);
      if (got == 0) return report_end();
      event_active(read_event_.get(), EV_READ, 0);  // the end comes next
      break;
  }
  return got ? ReadResult::data : ReadResult::again;
}

// The end is told once: nothing more is read after it.
ReadResult TlsIo::report_end() {
  reading_ = false;
  update_read_event();
  return end_;
}

void TlsIo::flush() {
  if (failed_) return;
  bool wrote = false;
  size_t sent = 0;
  ERR_clear_error();
  int err = SSL_ERROR_NONE;
  int sys_errno = 0;
  while (sent < max_write_) {
    size_t len = evbuffer_get_length(out_);
    if (len == 0) break;
    // A repeated write must offer the same bytes; more have only been appended.
    size_t n = retry_len_ ? retry_len_ : (len < kRecord ? len : kRecord);
    const unsigned char* p = evbuffer_pullup(out_, static_cast<ev_ssize_t>(n));
    size_t done = 0;
    errno = 0;
    int r = p ? SSL_write_ex(ssl_, p, n, &done) : 0;
    if (r == 1) {
      evbuffer_drain(out_, done);
      retry_len_ = 0;
      sent += done;
      wrote = true;
      continue;
    }
    if (!p) {
      err = SSL_ERROR_SYSCALL;
      sys_errno = ENOMEM;
      break;
    }
    sys_errno = errno;
    err = SSL_get_error(ssl_, r);
    retry_len_ = n;
    break;
  }
  // What the buffering BIO holds goes to the socket now.
  bool held = false;  // the socket is full and the BIO holds records
  if (err == SSL_ERROR_NONE || err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
    BIO* wbio = SSL_get_wbio(ssl_);
    errno = 0;
    if (BIO_flush(wbio) <= 0) {
      if (BIO_should_retry(wbio)) {
        held = true;
        if (err == SSL_ERROR_NONE) err = SSL_ERROR_WANT_WRITE;
      } else {
        err = SSL_ERROR_SYSCALL;
        sys_errno = errno ? errno : EIO;
      }
    }
  }
  switch (err) {
    case SSL_ERROR_NONE:
      arm_write(read_wants_write_);
      // The budget is spent: come back after the other events of this turn.
      if (evbuffer_get_length(out_)) event_active(write_event_.get(), EV_WRITE, 0);
      break;
    case SSL_ERROR_WANT_WRITE: arm_write(true); break;
    case SSL_ERROR_WANT_READ:
      arm_write(read_wants_write_ || held);
      write_wants_read_ = true;
      update_read_event();
      break;
    default: {
      std::string what = failure_text(err, sys_errno);
      if (what.empty()) what = "TLS: the peer closed the connection";
      failed_ = true;
      arm_write(false);
      update_read_event();
      owner_.on_tls_write_error(what);  // may free us
      return;
    }
  }
  if (wrote) owner_.on_tls_written();  // may free us
}
