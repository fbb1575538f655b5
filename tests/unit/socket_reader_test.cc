// read_socket(): one readv per call, growing with a bulk sender beyond
// evbuffer_read's 4 KiB up to the cap and shrinking again for small
// messages (ReadAhead), and EOF/again/error are told apart.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "socket_reader.h"

namespace {

struct Pair {
  int fd[2];
  Pair() {
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd));
    int size = 1 << 20;
    setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(fd[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  ~Pair() {
    if (fd[0] >= 0) close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
  }
};

struct Buf {
  evbuffer* b = evbuffer_new();
  ~Buf() { evbuffer_free(b); }
};

}  // namespace

TEST(SocketReader, ReadsGrowUntilOneCallTakesWhatIsWaiting) {
  Pair p;
  std::string data(300000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ASSERT_EQ(static_cast<ssize_t>(data.size()), write(p.fd[0], data.data(), data.size()));
  Buf buf;
  ReadAhead ahead;
  std::vector<size_t> sizes;
  size_t got = 0;
  for (int i = 0; i < 20 && evbuffer_get_length(buf.b) < data.size(); ++i) {
    ASSERT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 1 << 20, ahead, got));
    sizes.push_back(got);
  }
  // 4000, 8000, ..., 128000 (6 reads, 252000 bytes), then the rest in one.
  ASSERT_EQ(7u, sizes.size());
  EXPECT_EQ(ReadAhead::kMin, sizes[0]);
  for (size_t i = 1; i + 1 < sizes.size(); ++i) EXPECT_EQ(2 * sizes[i - 1], sizes[i]);
  ASSERT_EQ(data.size(), evbuffer_get_length(buf.b));
  std::string back(data.size(), '\0');
  evbuffer_copyout(buf.b, &back[0], back.size());
  EXPECT_EQ(data, back);
}

TEST(SocketReader, ReadAheadShrinksForSmallMessages) {
  ReadAhead ahead;
  EXPECT_EQ(ReadAhead::kMin, ahead.next(1 << 20));
  for (int i = 0; i < 10; ++i) ahead.saw(ahead.next(1 << 20), ahead.next(1 << 20));
  EXPECT_EQ(size_t{1} << 20, ahead.next(1 << 20));  // capped by the caller
  EXPECT_EQ(65536u, ahead.next(65536));
  ahead.saw(1 << 20, 100);
  EXPECT_EQ(size_t{1} << 19, ahead.next(1 << 20));
  ahead.saw(1 << 19, 300000);  // more than a quarter: stays
  EXPECT_EQ(size_t{1} << 19, ahead.next(1 << 20));
  for (int i = 0; i < 30; ++i) ahead.saw(ahead.next(1 << 20), 10);
  EXPECT_EQ(ReadAhead::kMin, ahead.next(1 << 20));  // never below the minimum
}

TEST(SocketReader, HonoursTheCap) {
  Pair p;
  std::string data(50000, 'y');
  ASSERT_EQ(static_cast<ssize_t>(data.size()), write(p.fd[0], data.data(), data.size()));
  Buf buf;
  ReadAhead ahead;
  size_t got = 0;
  size_t total = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 8192, ahead, got));
    EXPECT_LE(got, 8192u);
    total += got;
  }
  EXPECT_EQ(8192u, got);  // grown to the cap, never past it
  EXPECT_EQ(total, evbuffer_get_length(buf.b));
}

TEST(SocketReader, AppendsAfterExistingData) {
  Pair p;
  Buf buf;
  evbuffer_add(buf.b, "head:", 5);
  ASSERT_EQ(4, write(p.fd[0], "tail", 4));
  ReadAhead ahead;
  size_t got = 0;
  ASSERT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 1 << 20, ahead, got));
  EXPECT_EQ(4u, got);
  char out[9];
  ASSERT_EQ(9, evbuffer_remove(buf.b, out, sizeof out));
  EXPECT_EQ(std::string("head:tail"), std::string(out, 9));
}

TEST(SocketReader, AgainWhenNothingWaits) {
  Pair p;
  Buf buf;
  ReadAhead ahead;
  size_t got = 1;
  EXPECT_EQ(ReadResult::again, read_socket(p.fd[1], buf.b, 1 << 20, ahead, got));
  EXPECT_EQ(0u, got);
  EXPECT_EQ(0u, evbuffer_get_length(buf.b));
}

TEST(SocketReader, EofAfterPeerShutdown) {
  Pair p;
  ASSERT_EQ(3, write(p.fd[0], "abc", 3));
  shutdown(p.fd[0], SHUT_WR);
  Buf buf;
  ReadAhead ahead;
  size_t got = 0;
  EXPECT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 1 << 20, ahead, got));
  EXPECT_EQ(3u, got);
  EXPECT_EQ(ReadResult::eof, read_socket(p.fd[1], buf.b, 1 << 20, ahead, got));
  EXPECT_EQ(3u, evbuffer_get_length(buf.b));
}

TEST(SocketReader, ErrorOnBadDescriptor) {
  Buf buf;
  ReadAhead ahead;
  size_t got = 0;
  EXPECT_EQ(ReadResult::error, read_socket(-1, buf.b, 1 << 20, ahead, got));
  EXPECT_EQ(EBADF, errno);
  EXPECT_EQ(0u, evbuffer_get_length(buf.b));
}
