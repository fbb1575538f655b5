#include "transport.h"

#include <cerrno>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>

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
  // Only the TLS handshake's end (server) or failure reaches us from the
  // bufferevent; it no longer tells the client's ServerLink anything.
  bufferevent_setcb(bev_.get(), nullptr, nullptr, event_cb, this);
  evutil_socket_t fd = bufferevent_getfd(bev_.get());
  if (fd >= 0 &&
      setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &kNotsentLowat, sizeof kNotsentLowat) != 0)
    log_warn("channel: setsockopt TCP_NOTSENT_LOWAT");
  if (tls_) {
    ssl_ = bufferevent_openssl_get_ssl(bev_.get());
    in_.reset(evbuffer_new());
    out_.reset(evbuffer_new());
  } else {
    io_ = std::make_unique<SocketIo>(bev_.get(), kChannelReadSize, kChannelWriteSize,
                                     static_cast<SocketIo::Owner&>(*this));
  }
}

Transport::~Transport() = default;

void Transport::start(bool handshake_done) {
  if (!tls_) {
    io_->set_reading(true);
    return;
  }
  if (handshake_done)
    take_over_tls();
  else
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
}

// bufferevent_openssl's own buffers stay empty: what the owner queued during
// the handshake waits in out_, and it reads nothing once the handshake is
// done until its callbacks run, which disabling it here prevents.
void Transport::take_over_tls() {
  bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
  if (!in_ || !out_) {
    owner_.transport_error("TLS: out of memory", false);
    return;
  }
  tls_io_ = std::make_unique<TlsIo>(base_, ssl_, bufferevent_getfd(bev_.get()), in_.get(),
                                    out_.get(), kChannelReadSize, kChannelWriteSize,
                                    static_cast<TlsIo::Owner&>(*this));
  tls_io_->set_reading(reading_);
  tls_io_->kick();
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
  if (io_) io_->set_reading(false);
  if (tls_io_) tls_io_->set_reading(false);
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
  tls_io_.reset();
  ssl_ = nullptr;
  bev_.reset();
}

void Transport::event_cb(bufferevent*, short what, void* arg) noexcept {
  static_cast<Transport*>(arg)->on_event(what);
}

// The TLS handshake's outcome (before take_over_tls()).
void Transport::on_event(short what) {
  if (what & BEV_EVENT_CONNECTED) {  // the server's TLS handshake is done
    take_over_tls();
    return;
  }
  if (what & BEV_EVENT_EOF) {
    owner_.transport_eof();
  } else if (what & BEV_EVENT_ERROR) {
    int err = EVUTIL_SOCKET_ERROR();
    std::string tls_err = tls_error_text(bev_.get());
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

void Transport::on_tls_readable() {
  size_t got;
  switch (tls_io_->read(got)) {
    case ReadResult::data: owner_.transport_readable(); break;
    case ReadResult::again: break;
    case ReadResult::eof: owner_.transport_eof(); break;
    case ReadResult::error: owner_.transport_error(tls_io_->error(), false); break;
  }
}

// After a write by SocketIo or TlsIo: the low mark for the owner.
void Transport::on_written() {
  last_written_ms_ = loop_time_ms(base_);
  if (bev_ && evbuffer_get_length(output()) <= low_mark_) owner_.transport_drained();
}

void Transport::on_write_error(int err) {
  owner_.transport_error(evutil_socket_error_to_string(err), false);
}

void Transport::on_tls_write_error(const std::string& what) {
  owner_.transport_error(what, false);
}
