// Deferred destruction. Objects usually end inside one of their own libevent
// callbacks; deleting them there would pull the stack out from under the
// caller. bury() keeps them until the loop's next turn (tmux's
// server_client_unref() does the same with event_once).
#pragma once

#include <memory>
#include <vector>

#include "ev.h"

class Disposable {
 public:
  virtual ~Disposable() = default;
};

class Reaper {
 public:
  explicit Reaper(event_base* base);
  void bury(std::unique_ptr<Disposable> obj);
  // Frees everything now (used at shutdown).
  void reap();

 private:
  static void on_event(evutil_socket_t, short, void* arg) noexcept;
  EventPtr event_;
  std::vector<std::unique_ptr<Disposable>> graveyard_;
};
