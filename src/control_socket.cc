#include "control_socket.h"

#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

struct ControlSocket::Session {
  ControlSocket* owner = nullptr;
  BufferEventPtr bev;
  ControlPeer peer;
  bool answered = false;
  std::list<std::unique_ptr<Session>>::iterator self;  // its place in sessions_
};

ControlSocket::ControlSocket(event_base* base, Handler handler)
    : base_(base), handler_(std::move(handler)) {}

ControlSocket::~ControlSocket() {
  sessions_.clear();
  listener_.reset();
  if (!path_.empty()) unlink(path_.c_str());
}

namespace {

bool make_address(const std::string& path, sockaddr_un& sa, std::string& err) {
  sa = sockaddr_un{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path) {
    err = "'" + path + "': a socket path must have 1-" + std::to_string(sizeof sa.sun_path - 1) +
          " characters";
    return false;
  }
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return true;
}

// A socket file left by a server that is gone may be replaced; one that a
// live server answers on, or any other file, may not.
bool clear_stale(const std::string& path, const sockaddr_un& sa, std::string& err) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    err = "'" + path + "': " + strerror(errno);
    return false;
  }
  if (!S_ISSOCK(st.st_mode)) {
    err = "'" + path + "' exists and is not a socket";
    return false;
  }
  UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe && connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) {
    err = "'" + path + "' is in use by another running server";
    return false;
  }
  if (unlink(path.c_str()) != 0) {
    err = "'" + path + "': cannot remove the stale socket: " + strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

bool ControlSocket::listen(const std::string& path, gid_t gid, std::string& err) {
  sockaddr_un sa;
  if (!make_address(path, sa, err) || !clear_stale(path, sa, err)) return false;
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    err = strerror(errno);
    return false;
  }
  // Created 0600 (umask), then opened to the group: never briefly wider.
  mode_t old = umask(0177);
  int rc = bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  umask(old);
  if (rc != 0) {
    err = "'" + path + "': " + strerror(errno);
    return false;
  }
  path_ = path;
  if ((gid != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) ||
      chmod(path.c_str(), 0660) != 0) {
    err = "'" + path + "': " + strerror(errno);
    return false;
  }
  if (::listen(fd.get(), 16) != 0) {
    err = "'" + path + "': " + strerror(errno);
    return false;
  }
  listener_.reset(evconnlistener_new(base_, accept_cb, this, LEV_OPT_CLOSE_ON_FREE, -1, fd.get()));
  if (!listener_) {
    err = "out of memory";
    return false;
  }
  fd.release();
  return true;
}

void ControlSocket::accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept {
  static_cast<ControlSocket*>(arg)->accept(UniqueFd(fd));
}

bool ControlSocket::allowed(const ControlPeer& p) const {
  return p.uid == 0 || p.uid == geteuid() || p.gid == getegid();
}

void ControlSocket::accept(UniqueFd fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    log_warnx("control socket: cannot identify a peer: %s", strerror(errno));
    return;
  }
  ControlPeer peer{cred.pid, cred.uid, cred.gid};
  if (!allowed(peer)) {
    log_warnx("control socket: refused pid %d, uid %d, gid %d (only root, uid %d and group %d may "
              "control this server)",
              static_cast<int>(peer.pid), static_cast<int>(peer.uid), static_cast<int>(peer.gid),
              static_cast<int>(geteuid()), static_cast<int>(getegid()));
    return;
  }
  evutil_make_socket_nonblocking(fd.get());
  auto s = std::make_unique<Session>();
  s->owner = this;
  s->peer = peer;
  s->bev.reset(bufferevent_socket_new(base_, fd.get(), BEV_OPT_CLOSE_ON_FREE));
  if (!s->bev) return;
  fd.release();
  timeval tv{kTimeoutSec, 0};
  bufferevent_set_timeouts(s->bev.get(), &tv, &tv);
  bufferevent_setcb(s->bev.get(), read_cb, nullptr, event_cb, s.get());
  bufferevent_enable(s->bev.get(), EV_READ);
  Session* raw = s.get();
  sessions_.push_back(std::move(s));
  raw->self = std::prev(sessions_.end());
}

void ControlSocket::read_cb(bufferevent*, void* arg) noexcept {
  auto* s = static_cast<Session*>(arg);
  s->owner->on_request(*s);
}

void ControlSocket::on_request(Session& s) {
  if (s.answered) return;
  evbuffer* in = bufferevent_get_input(s.bev.get());
  size_t n = 0;
  char* line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
  if (!line) {
    if (evbuffer_get_length(in) > kMaxRequest) {
      log_warnx("control socket: pid %d sent more than %zu bytes without a request: closed",
                static_cast<int>(s.peer.pid), kMaxRequest);
      end(s);
    }
    return;
  }
  std::string request(line, n);
  free(line);
  std::string response = handler_(request, s.peer);
  s.answered = true;
  bufferevent_disable(s.bev.get(), EV_READ);
  response += '\n';
  bufferevent_write(s.bev.get(), response.data(), response.size());
  bufferevent_setcb(s.bev.get(), nullptr, write_cb, event_cb, &s);
}

void ControlSocket::write_cb(bufferevent* bev, void* arg) noexcept {
  auto* s = static_cast<Session*>(arg);
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) s->owner->end(*s);
}

void ControlSocket::event_cb(bufferevent*, short, void* arg) noexcept {
  auto* s = static_cast<Session*>(arg);
  s->owner->end(*s);  // EOF, error or timeout: the connection is over
}

void ControlSocket::end(Session& s) {
  sessions_.erase(s.self);  // frees the bufferevent (allowed in its own callback)
}
