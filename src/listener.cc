#include "listener.h"

#include <cerrno>
#include <cstring>

#include "address.h"
#include "log.h"
#include "net.h"

Listener::Listener(event_base* base, std::string name, AcceptFn on_accept)
    : base_(base),
      name_(std::move(name)),
      on_accept_(std::move(on_accept)),
      resume_timer_(evtimer_new(base, resume_cb, this)) {}

bool Listener::bind(const std::string& host, uint16_t port, std::string& err) {
  sockaddr_storage ss;
  socklen_t len;
  if (!ip_literal_to_sockaddr(host.empty() ? "0.0.0.0" : host, port, ss, len)) {
    err = "bad address '" + host + "'";
    return false;
  }
  unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
  if (ss.ss_family == AF_INET6) flags |= LEV_OPT_BIND_IPV6ONLY;
  listener_.reset(evconnlistener_new_bind(base_, accept_cb, this, flags, 511,
                                          reinterpret_cast<sockaddr*>(&ss), static_cast<int>(len)));
  if (!listener_) {
    err = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
    return false;
  }
  evconnlistener_set_error_cb(listener_.get(), error_cb);
  // Linux copies TCP_NODELAY to every accepted socket: one setsockopt
  // here instead of one per connection.
  set_nodelay(evconnlistener_get_fd(listener_.get()));
  return true;
}

void Listener::accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int, void* arg) noexcept {
  auto* self = static_cast<Listener*>(arg);
  self->on_accept_(fd, sa);
}

void Listener::error_cb(evconnlistener* l, void* arg) noexcept {
  auto* self = static_cast<Listener*>(arg);
  int err = EVUTIL_SOCKET_ERROR();
  if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
    log_warnx("%s: accept: %s; pausing for 1 s", self->name_.c_str(),
              evutil_socket_error_to_string(err));
    evconnlistener_disable(l);
    timeval tv{1, 0};
    evtimer_add(self->resume_timer_.get(), &tv);
  } else {
    log_warnx("%s: accept: %s", self->name_.c_str(), evutil_socket_error_to_string(err));
  }
}

void Listener::pause_one_turn() {
  if (!listener_) return;
  evconnlistener_disable(listener_.get());
  timeval tv{0, 0};
  evtimer_add(resume_timer_.get(), &tv);
}

void Listener::resume_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Listener*>(arg);
  if (self->listener_) evconnlistener_enable(self->listener_.get());
}
