// SocketWriter: what callbacks queue in one loop turn leaves in one write,
// a full socket is waited for (and only then), errors reach the owner.
#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <cerrno>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "socket_writer.h"

namespace {

struct Pair {
  int fd[2];
  explicit Pair(int sndbuf = 0) {
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd));
    if (sndbuf) setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  ~Pair() {
    if (fd[0] >= 0) close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
  }
  std::string drain() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd[1], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

struct Recorder final : SocketWriter::Owner {
  int written = 0;
  int error = 0;
  std::unique_ptr<SocketWriter>* free_on_write = nullptr;
  void on_written() override {
    ++written;
    if (free_on_write) free_on_write->reset();
  }
  void on_write_error(int err) override { error = err; }
};

struct Loop {
  EventBasePtr base{event_base_new()};
  evbuffer* out = evbuffer_new();
  ~Loop() { evbuffer_free(out); }
  void turn() { event_base_loop(base.get(), EVLOOP_NONBLOCK); }
};

}  // namespace

TEST(SocketWriter, WritesWhatOneTurnQueuedInOneGo) {
  Pair p;
  Loop l;
  Recorder r;
  SocketWriter w(l.base.get(), p.fd[0], l.out, 1 << 20, r);
  for (const char* s : {"one ", "two ", "three"}) {
    evbuffer_add(l.out, s, strlen(s));
    w.schedule();
  }
  EXPECT_EQ("", p.drain()) << "nothing is written before the loop turns";
  l.turn();
  EXPECT_EQ("one two three", p.drain());
  EXPECT_EQ(1, r.written);
  EXPECT_EQ(0u, evbuffer_get_length(l.out));
  EXPECT_FALSE(w.waiting());
  l.turn();  // nothing scheduled: no further callback
  EXPECT_EQ(1, r.written);
}

TEST(SocketWriter, WaitsForAFullSocketAndFinishes) {
  Pair p(16384);
  Loop l;
  Recorder r;
  SocketWriter w(l.base.get(), p.fd[0], l.out, 1 << 20, r);
  std::string data(4u << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + i / 4096);
  evbuffer_add(l.out, data.data(), data.size());
  w.schedule();
  l.turn();
  EXPECT_TRUE(w.waiting()) << "4 MiB cannot fit a 16 KiB socket buffer";
  EXPECT_GT(evbuffer_get_length(l.out), 0u);
  std::string got;
  for (int i = 0; i < 100000 && got.size() < data.size(); ++i) {
    got += p.drain();
    l.turn();
  }
  got += p.drain();
  EXPECT_EQ(data.size(), got.size());
  EXPECT_TRUE(got == data);
  EXPECT_FALSE(w.waiting());
  EXPECT_EQ(0, r.error);
}

TEST(SocketWriter, ReportsAWriteErrorOnce) {
  signal(SIGPIPE, SIG_IGN);
  Pair p;
  close(p.fd[1]);
  p.fd[1] = -1;
  Loop l;
  Recorder r;
  SocketWriter w(l.base.get(), p.fd[0], l.out, 1 << 20, r);
  evbuffer_add(l.out, "lost", 4);
  w.schedule();
  l.turn();
  EXPECT_EQ(EPIPE, r.error);
  EXPECT_EQ(0, r.written);
  r.error = 0;
  w.schedule();  // stopped: no second report
  l.turn();
  EXPECT_EQ(0, r.error);
}

TEST(SocketWriter, OwnerMayFreeItInTheCallback) {
  Pair p;
  Loop l;
  Recorder r;
  auto w = std::make_unique<SocketWriter>(l.base.get(), p.fd[0], l.out, 1 << 20, r);
  r.free_on_write = &w;
  evbuffer_add(l.out, "bye", 3);
  w->schedule();
  l.turn();
  EXPECT_EQ(nullptr, w);
  EXPECT_EQ("bye", p.drain());
}
