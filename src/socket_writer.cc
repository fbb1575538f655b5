#include "socket_writer.h"

#include <cerrno>

namespace {
// Full-size writes in a row before yielding to the loop, so one fast
// socket cannot starve the others.
constexpr int kWritesPerTurn = 4;
}  // namespace

SocketWriter::SocketWriter(event_base* base, evutil_socket_t fd, evbuffer* out, size_t max_write,
                           Owner& owner)
    : ev_(event_new(base, fd, EV_WRITE | EV_PERSIST, ready_cb, this)),
      fd_(fd),
      out_(out),
      max_write_(max_write),
      owner_(owner) {
  // A socket bufferevent freezes its output's start so that only its own
  // writer drains it; we are that writer now.
  evbuffer_unfreeze(out, 1);
}

void SocketWriter::schedule() {
  // While armed, EPOLLOUT brings us back; an active event is not queued twice.
  if (armed_ || failed_ || !ev_) return;
  event_active(ev_.get(), EV_WRITE, 0);
}

void SocketWriter::ready_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<SocketWriter*>(arg)->flush();
}

void SocketWriter::arm(bool on) {
  if (on == armed_) return;
  armed_ = on;
  if (on)
    event_add(ev_.get(), nullptr);
  else
    event_del(ev_.get());
}

void SocketWriter::flush() {
  if (failed_) return;
  bool wrote = false;
  for (int i = 0; i < kWritesPerTurn; ++i) {
    size_t len = evbuffer_get_length(out_);
    if (len == 0) break;
    size_t attempt = len < max_write_ ? len : max_write_;
    errno = 0;  // -1 without a system call (a frozen buffer) must not look like EAGAIN
    int n = evbuffer_write_atmost(out_, fd_, static_cast<ev_ssize_t>(attempt));
    if (n < 0) {
      int err = errno ? errno : EIO;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) break;
      failed_ = true;
      arm(false);
      owner_.on_write_error(err);  // may free us
      return;
    }
    if (n > 0) wrote = true;
    // Short: the socket is full (or writev's chain limit was reached; then
    // the armed event brings us back at once).
    if (static_cast<size_t>(n) < attempt) break;
  }
  arm(evbuffer_get_length(out_) > 0);
  if (wrote) owner_.on_written();  // may free us
}
