#include "transport.h"

#include <cerrno>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/bio.h>

#include "log.h"
#include "tls.h"

namespace {
constexpr size_t kChannelReadSize = 1u << 20;
constexpr size_t kChannelWriteSize = 1u << 20;
// The kernel's unsent queue on the channel socket (TCP_NOTSENT_LOWAT): a
// frame queued now waits behind at most about this much (plus one write).
// bench/run.sh latency and fairness at 16, 32, 64 and 128 KiB could not
// tell them apart on a loaded 2-core box (issue 19); on loopback the queue
// that delays small frames is the receiver's, bounded by stream credit.
// 128 KiB costs the fewest EPOLLOUT wake-ups per byte of the four.
constexpr int kNotsentLowat = 128 << 10;
}  // namespace

Transport::Transport(BufferEventPtr bev, bool tls, size_t low_mark, Owner& owner)
    : bev_(std::move(bev)),
      base_(bufferevent_get_base(bev_.get())),
      owner_(owner),
      tls_(tls),
      low_mark_(low_mark) {
  bufferevent_setcb(bev_.get(), read_cb, write_cb, event_cb, this);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, low_mark_, 0);
  bufferevent_set_max_single_read(bev_.get(), kChannelReadSize);
  bufferevent_set_max_single_write(bev_.get(), kChannelWriteSize);
  evutil_socket_t fd = bufferevent_getfd(bev_.get());
  if (fd >= 0 &&
      setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &kNotsentLowat, sizeof kNotsentLowat) != 0)
    log_warn("channel: setsockopt TCP_NOTSENT_LOWAT");
  if (tls_)
    ssl_ = bufferevent_openssl_get_ssl(bev_.get());
  else
    io_ = std::make_unique<SocketIo>(bev_.get(), kChannelReadSize, kChannelWriteSize,
                                     static_cast<SocketIo::Owner&>(*this));
}

Transport::~Transport() = default;

void Transport::start(bool handshake_done) {
  if (!tls_) {
    io_->set_reading(true);
    return;
  }
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  if (handshake_done) read_buffered_tls();
}

// The search walks the loop's events, so it waits until a channel first
// has records waiting (most have soon, with read-ahead and bulk data).
void Transport::nudge_tls_read() {
  if (!tls_read_event_searched_) {
    tls_read_event_searched_ = true;
    tls_read_event_ = tls_read_event(bev_.get());
    if (!tls_read_event_)
      log_warnx("TLS: the bufferevent's read event was not found; records that OpenSSL read "
                "ahead wait for more from the socket");
  }
  if (tls_read_event_) event_active(tls_read_event_, EV_READ, 1);
}

int64_t Transport::last_written_ms() {
  if (bev_ && ssl_) {
    uint64_t w = BIO_number_written(SSL_get_wbio(ssl_));
    if (w != tls_written_) {
      tls_written_ = w;
      last_written_ms_ = loop_time_ms(base_);
    }
  }
  return last_written_ms_;
}

size_t Transport::kernel_unsent() const {
  int n = 0;
  evutil_socket_t fd = bev_ ? bufferevent_getfd(bev_.get()) : -1;
  if (fd < 0 || ioctl(fd, SIOCOUTQNSD, &n) != 0 || n < 0) return 0;
  return static_cast<size_t>(n);
}

std::string Transport::tls_summary() const {
  if (!tls_ || !bev_) return "";
  return ::tls_summary(bev_.get());
}

bool Transport::channel_binding(std::string& out) const {
  out.clear();
  if (!tls_) return true;
  return bev_ && tls_channel_binding(bev_.get(), out);
}

void Transport::finish_writing() {
  low_mark_ = 0;
  reading_ = false;
  bufferevent_disable(bev_.get(), EV_READ);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);
}

void Transport::close() {
  if (!bev_) return;
  evutil_socket_t fd = bufferevent_getfd(bev_.get());
  // A last word (the HELLO that tells a refused client why) should reach
  // the peer: one non-blocking write of what is queued, plain sockets only.
  if (!tls_ && evbuffer_get_length(output())) evbuffer_write(output(), fd);
  // libevent closes the socket only at the end of this loop turn; end the
  // connection now, so a burst of dropped handshakes does not linger.
  if (fd >= 0) shutdown(fd, SHUT_RDWR);
  // Freeing inside our own callback is safe: libevent holds a reference.
  io_.reset();
  ssl_ = nullptr;
  tls_read_event_ = nullptr;
  bev_.reset();
}

void Transport::read_cb(bufferevent*, void* arg) noexcept {
  auto* t = static_cast<Transport*>(arg);
  t->owner_.transport_readable();
  if (t->bev_) t->read_buffered_tls();
}

void Transport::write_cb(bufferevent*, void* arg) noexcept {
  static_cast<Transport*>(arg)->owner_.transport_drained();
}

void Transport::event_cb(bufferevent*, short what, void* arg) noexcept {
  static_cast<Transport*>(arg)->on_event(what);
}

void Transport::on_event(short what) {
  if (what & BEV_EVENT_CONNECTED) {  // the server's TLS handshake is done
    read_buffered_tls();
    return;
  }
  if (what & BEV_EVENT_EOF) {
    owner_.transport_eof();
  } else if (what & BEV_EVENT_ERROR) {
    int err = EVUTIL_SOCKET_ERROR();
    std::string tls_err = tls_ ? tls_error_text(bev_.get()) : "";
    owner_.transport_error(tls_err.empty() ? evutil_socket_error_to_string(err) : "TLS: " + tls_err,
                           false);
  }
}

void Transport::on_readable() {
  size_t got;
  switch (io_->read(got)) {
    case ReadResult::data: owner_.transport_readable(); break;
    case ReadResult::again: break;
    case ReadResult::eof: owner_.transport_eof(); break;
    case ReadResult::error: owner_.transport_error(evutil_socket_error_to_string(errno), true); break;
  }
}

// The plain-socket counterpart of write_cb and the bufferevent's
// low-water mark.
void Transport::on_written() {
  last_written_ms_ = loop_time_ms(base_);
  if (bev_ && evbuffer_get_length(output()) <= low_mark_) owner_.transport_drained();
}

void Transport::on_write_error(int err) {
  owner_.transport_error(evutil_socket_error_to_string(err), false);
}
