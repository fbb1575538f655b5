// Signals delivered through the event loop (evsignal): handlers run in loop
// context, never in signal context, so they may do real work.
#pragma once

#include <functional>
#include <vector>

#include "ev.h"

class SignalSet {
 public:
  explicit SignalSet(event_base* base) : base_(base) {}
  void on(int signo, std::function<void()> fn);

 private:
  struct Entry {
    std::function<void()> fn;
    EventPtr ev;
  };
  static void cb(evutil_socket_t, short, void* arg) noexcept;
  event_base* base_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// SIGPIPE would kill the process on a write to a reset socket.
void ignore_sigpipe();
