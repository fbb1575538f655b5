#include "socket_reader.h"

#include <cerrno>
#include <sys/uio.h>

ReadResult read_socket(evutil_socket_t fd, evbuffer* buf, size_t max_bytes, ReadAhead& ahead,
                       size_t& got) {
  got = 0;
  size_t want = ahead.next(max_bytes);
  evbuffer_iovec vec[2];
  int n = evbuffer_reserve_space(buf, static_cast<ev_ssize_t>(want), vec, 2);
  if (n <= 0) {
    errno = ENOMEM;
    return ReadResult::error;
  }
  // The reservation may be larger than asked for; read no more than want.
  iovec iov[2];
  size_t room = want;
  for (int i = 0; i < n; ++i) {
    iov[i].iov_base = vec[i].iov_base;
    iov[i].iov_len = vec[i].iov_len < room ? vec[i].iov_len : room;
    room -= iov[i].iov_len;
  }
  ssize_t r;
  do {
    r = readv(fd, iov, n);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) {
    int saved = errno;
    evbuffer_commit_space(buf, vec, 0);
    errno = saved;
    if (r == 0) return ReadResult::eof;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? ReadResult::again : ReadResult::error;
  }
  size_t left = static_cast<size_t>(r);
  int used = 0;
  for (; used < n && left > 0; ++used) {
    size_t take = left < vec[used].iov_len ? left : vec[used].iov_len;
    vec[used].iov_len = take;
    left -= take;
  }
  evbuffer_commit_space(buf, vec, used);
  got = static_cast<size_t>(r);
  ahead.saw(want, got);
  return ReadResult::data;
}
