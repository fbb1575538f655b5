// Reading a socket into an evbuffer in one system call.
//
// libevent 2.1's evbuffer_read() (and so every socket bufferevent) reads at
// most 4096 bytes per call, which holds a relay to about 1 Gbit/s on
// loopback. read_socket() asks the kernel how much is waiting (FIONREAD) and
// reads up to max_bytes of it with a single readv into reserved evbuffer
// space, so idle sockets still hold no buffer memory.
#pragma once

#include <cstddef>

#include <event2/buffer.h>
#include <event2/util.h>

enum class ReadResult { data, again, eof, error };

// got is the number of bytes appended to buf (only for ReadResult::data).
// On ReadResult::error, errno holds the reason.
ReadResult read_socket(evutil_socket_t fd, evbuffer* buf, size_t max_bytes, size_t& got);
