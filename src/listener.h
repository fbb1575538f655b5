// A listening TCP socket (evconnlistener) with an accept callback. When
// accept() fails for lack of descriptors or memory, the listener pauses for
// a second instead of spinning or dying. Accepted sockets come with
// TCP_NODELAY set (on Linux they inherit it from the listening socket).
#pragma once

#include <functional>
#include <string>

#include "ev.h"

class Listener {
 public:
  using AcceptFn = std::function<void(evutil_socket_t fd, const sockaddr* peer)>;

  Listener(event_base* base, std::string name, AcceptFn on_accept);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds host:port (host is an IP literal, "" for every IPv4 address).
  // false with err on failure.
  bool bind(const std::string& host, uint16_t port, std::string& err);
  const std::string& name() const { return name_; }
  // Stops accepting until the event loop's next turn (also ends the accept
  // burst libevent is in, when called from the accept callback).
  void pause_one_turn();

 private:
  static void accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int, void* arg) noexcept;
  static void error_cb(evconnlistener*, void* arg) noexcept;
  static void resume_cb(evutil_socket_t, short, void* arg) noexcept;

  event_base* base_;
  std::string name_;
  AcceptFn on_accept_;
  ListenerPtr listener_;
  EventPtr resume_timer_;
};
