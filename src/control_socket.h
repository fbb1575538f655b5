// The control socket (CONTROL_SOCKET): a Unix stream socket, mode 0660,
// served by the daemon's own event loop. Each connection is checked with
// SO_PEERCRED (root, or the daemon's own uid or gid; anyone else is refused
// with a log line), sends one request line and gets one response line, then
// is closed. A connection that sends nothing, or more than a request can
// be, is closed after a bounded time or size: a stuck or hostile control
// client never holds more than its own buffers, and never blocks forwarding.
#pragma once

#include <sys/types.h>

#include <functional>
#include <list>
#include <memory>
#include <string>

#include "ev.h"
#include "unique_fd.h"

struct ControlPeer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class ControlSocket {
 public:
  // Answers one request line (without its newline) with one response line.
  using Handler = std::function<std::string(const std::string& request, const ControlPeer& peer)>;
  static constexpr size_t kMaxRequest = 64 * 1024;
  static constexpr int kTimeoutSec = 10;

  ControlSocket(event_base* base, Handler handler);
  ~ControlSocket();  // closes every connection and removes the socket file
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  // Creates the socket at path (a stale socket file is replaced, a live one
  // is not), mode 0660, owned by gid if it is not -1. false with err.
  bool listen(const std::string& path, gid_t gid, std::string& err);
  const std::string& path() const { return path_; }
  size_t connections() const { return sessions_.size(); }

 private:
  struct Session;
  static void accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept;
  static void read_cb(bufferevent* bev, void* arg) noexcept;
  static void write_cb(bufferevent* bev, void* arg) noexcept;
  static void event_cb(bufferevent* bev, short what, void* arg) noexcept;
  void accept(UniqueFd fd);
  bool allowed(const ControlPeer& p) const;
  void on_request(Session& s);
  void end(Session& s);

  event_base* base_;
  Handler handler_;
  std::string path_;
  ListenerPtr listener_;
  std::list<std::unique_ptr<Session>> sessions_;
};
