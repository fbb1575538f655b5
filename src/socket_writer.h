// Writing an evbuffer to a non-blocking socket, once per loop turn.
//
// A socket bufferevent arms its write event whenever data is added and
// disarms it when the buffer has drained: two epoll_ctl calls and one more
// loop turn for every response that crosses the tunnel. SocketWriter
// activates its event by hand instead (no system call), so what the
// callbacks of one loop turn queue leaves in one writev after them, and it
// waits for EPOLLOUT only while the socket is really full.
#pragma once

#include <cstddef>

#include "ev.h"

class SocketWriter {
 public:
  // Told about progress; both may free the writer.
  class Owner {
   public:
    // Bytes left the buffer (it may be empty now).
    virtual void on_written() = 0;
    // A write failed with err (an errno value); the writer has stopped.
    virtual void on_write_error(int err) = 0;

   protected:
    ~Owner() = default;
  };

  // Writes out (owned by the caller, typically a bufferevent's output
  // buffer with the bufferevent's own writing disabled) to fd, at most
  // max_write bytes per system call.
  SocketWriter(event_base* base, evutil_socket_t fd, evbuffer* out, size_t max_write, Owner& owner);
  SocketWriter(const SocketWriter&) = delete;
  SocketWriter& operator=(const SocketWriter&) = delete;

  // Data was added to the buffer: write it later in this loop turn.
  void schedule();
  // True while the socket is full and the writer waits for EPOLLOUT.
  bool waiting() const { return armed_; }

 private:
  static void ready_cb(evutil_socket_t, short, void* arg) noexcept;
  void flush();
  void arm(bool on);

  EventPtr ev_;
  evutil_socket_t fd_;
  evbuffer* out_;
  size_t max_write_;
  Owner& owner_;
  bool armed_ = false;
  bool failed_ = false;
};
