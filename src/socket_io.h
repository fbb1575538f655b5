// A connected socket bufferevent's I/O, taken over from libevent.
//
// The bufferevent keeps only its two buffers (and, on the client, the
// connect): reads are one readv per wakeup into its input (socket_reader.h)
// and writes leave its output once per loop turn (socket_writer.h). Tunnel
// (through Transport) and Stream both run their sockets this way.
#pragma once

#include <cstddef>

#include "ev.h"
#include "socket_reader.h"
#include "socket_writer.h"

class SocketIo {
 public:
  // Told about readiness and progress; any of these may free the SocketIo.
  class Owner : public SocketWriter::Owner {
   public:
    // The socket is readable: call read().
    virtual void on_readable() = 0;

   protected:
    ~Owner() = default;
  };

  // bev must have a connected socket. Its writing is disabled here; its
  // reading must be off (it is never enabled by us). With watch_close the
  // read event also asks for EPOLLRDHUP (EV_CLOSED), so peer_closed() can
  // tell that the peer's FIN came with the bytes just read.
  SocketIo(bufferevent* bev, size_t max_read, size_t max_write, Owner& owner,
           bool watch_close = false);
  SocketIo(const SocketIo&) = delete;
  SocketIo& operator=(const SocketIo&) = delete;

  // One readv of at most max_read bytes into the bufferevent's input; got
  // as in read_socket().
  ReadResult read(size_t& got) { return read_socket(fd_, input_, max_read_, ahead_, got); }
  // Whether on_readable() is called while the socket has data.
  void set_reading(bool on);
  // The last readiness report said the peer has shut down its writing
  // (watch_close only): what is left to read ends in EOF (or an error),
  // so reading on at once costs no wasted call and no extra loop turn.
  bool peer_closed() const { return peer_closed_; }
  // Data was added to the output: write it later in this loop turn.
  void schedule_write() { writer_.schedule(); }
  evutil_socket_t fd() const { return fd_; }
  // The socket is full and the writer waits for it (socket_writer.h).
  bool write_waiting() const { return writer_.waiting(); }

 private:
  static void readable_cb(evutil_socket_t, short, void* arg) noexcept;

  evutil_socket_t fd_;
  evbuffer* input_;
  size_t max_read_;
  Owner& owner_;
  ReadAhead ahead_;
  bool peer_closed_ = false;
  EventPtr read_event_;
  SocketWriter writer_;
};
