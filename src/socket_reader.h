// Reading a socket into an evbuffer in one system call.
//
// libevent 2.1's evbuffer_read() (and so every socket bufferevent) reads at
// most 4096 bytes per call, which holds a relay to about 1 Gbit/s on
// loopback. read_socket() reads with a single readv into reserved evbuffer
// space whose size a ReadAhead learns from the socket's last reads, so
// idle sockets still hold no buffer memory and no call is spent asking the
// kernel how much is waiting (FIONREAD cost one system call per wakeup,
// about a tenth of a short connection's calls).
#pragma once

#include <cstddef>

#include <event2/buffer.h>
#include <event2/util.h>

enum class ReadResult { data, again, eof, error };

// How much the next read of one socket asks for: it doubles while reads
// fill what they asked for (a bulk sender) and halves while they bring less
// than a quarter of it (small messages), between kMin and the caller's cap.
class ReadAhead {
 public:
  // A small message fits, and with the evbuffer chain header the
  // reservation stays within one 4 KiB allocation.
  static constexpr size_t kMin = 4000;

  size_t next(size_t max_bytes) const { return size_ < max_bytes ? size_ : max_bytes; }
  void saw(size_t asked, size_t got) {
    if (got >= asked)
      size_ = asked * 2;
    else if (got < asked / 4 && asked > kMin)
      size_ = asked / 2 > kMin ? asked / 2 : kMin;
  }

 private:
  size_t size_ = kMin;
};

// Reads at most ahead.next(max_bytes) bytes. got is the number of bytes
// appended to buf (only for ReadResult::data). On ReadResult::error, errno
// holds the reason.
ReadResult read_socket(evutil_socket_t fd, evbuffer* buf, size_t max_bytes, ReadAhead& ahead,
                       size_t& got);
