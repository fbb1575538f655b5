#include "socket_io.h"

SocketIo::SocketIo(bufferevent* bev, size_t max_read, size_t max_write, Owner& owner,
                   bool watch_close)
    : fd_(bufferevent_getfd(bev)),
      input_(bufferevent_get_input(bev)),
      max_read_(max_read),
      owner_(owner),
      read_event_(event_new(bufferevent_get_base(bev), fd_,
                            EV_READ | EV_PERSIST | (watch_close ? EV_CLOSED : 0), readable_cb,
                            this)),
      writer_(bufferevent_get_base(bev), fd_, bufferevent_get_output(bev), max_write, owner) {
  // A socket bufferevent freezes its input's tail so that only its own
  // reader appends, and writes whenever its output grows; we are its
  // reader and writer now (SocketWriter unfreezes the output).
  evbuffer_unfreeze(input_, 0);
  bufferevent_disable(bev, EV_WRITE);
}

void SocketIo::set_reading(bool on) {
  if (on)
    event_add(read_event_.get(), nullptr);
  else
    event_del(read_event_.get());
}

void SocketIo::readable_cb(evutil_socket_t, short what, void* arg) noexcept {
  auto* self = static_cast<SocketIo*>(arg);
  if (what & EV_CLOSED) self->peer_closed_ = true;
  self->owner_.on_readable();
}
