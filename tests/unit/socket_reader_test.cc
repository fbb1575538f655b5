// read_socket(): one readv takes everything the kernel holds (up to the
// cap), unlike evbuffer_read's 4 KiB, and EOF/again/error are told apart.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
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

TEST(SocketReader, ReadsMoreThanFourKilobytesInOneCall) {
  Pair p;
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ASSERT_EQ(static_cast<ssize_t>(data.size()), write(p.fd[0], data.data(), data.size()));
  Buf buf;
  size_t got = 0;
  ASSERT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 1 << 20, got));
  EXPECT_EQ(data.size(), got);
  ASSERT_EQ(data.size(), evbuffer_get_length(buf.b));
  std::string back(data.size(), '\0');
  evbuffer_copyout(buf.b, &back[0], back.size());
  EXPECT_EQ(data, back);
}

TEST(SocketReader, HonoursTheCap) {
  Pair p;
  std::string data(50000, 'y');
  ASSERT_EQ(static_cast<ssize_t>(data.size()), write(p.fd[0], data.data(), data.size()));
  Buf buf;
  size_t got = 0;
  ASSERT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 8192, got));
  EXPECT_EQ(8192u, got);
  EXPECT_EQ(8192u, evbuffer_get_length(buf.b));
}

TEST(SocketReader, AppendsAfterExistingData) {
  Pair p;
  Buf buf;
  evbuffer_add(buf.b, "head:", 5);
  ASSERT_EQ(4, write(p.fd[0], "tail", 4));
  size_t got = 0;
  ASSERT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 1 << 20, got));
  EXPECT_EQ(4u, got);
  char out[9];
  ASSERT_EQ(9, evbuffer_remove(buf.b, out, sizeof out));
  EXPECT_EQ(std::string("head:tail"), std::string(out, 9));
}

TEST(SocketReader, AgainWhenNothingWaits) {
  Pair p;
  Buf buf;
  size_t got = 1;
  EXPECT_EQ(ReadResult::again, read_socket(p.fd[1], buf.b, 1 << 20, got));
  EXPECT_EQ(0u, got);
  EXPECT_EQ(0u, evbuffer_get_length(buf.b));
}

TEST(SocketReader, EofAfterPeerShutdown) {
  Pair p;
  ASSERT_EQ(3, write(p.fd[0], "abc", 3));
  shutdown(p.fd[0], SHUT_WR);
  Buf buf;
  size_t got = 0;
  EXPECT_EQ(ReadResult::data, read_socket(p.fd[1], buf.b, 1 << 20, got));
  EXPECT_EQ(3u, got);
  EXPECT_EQ(ReadResult::eof, read_socket(p.fd[1], buf.b, 1 << 20, got));
  EXPECT_EQ(3u, evbuffer_get_length(buf.b));
}

TEST(SocketReader, ErrorOnBadDescriptor) {
  Buf buf;
  size_t got = 0;
  EXPECT_EQ(ReadResult::error, read_socket(-1, buf.b, 1 << 20, got));
  EXPECT_EQ(EBADF, errno);
  EXPECT_EQ(0u, evbuffer_get_length(buf.b));
}
