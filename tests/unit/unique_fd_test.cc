#include "unique_fd.h"

#include <cerrno>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace {

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

int open_fd() {
  int p[2];
  if (pipe(p) != 0) return -1;
  close(p[1]);
  return p[0];
}

}  // namespace

TEST(UniqueFd, EmptyByDefault) {
  UniqueFd f;
  EXPECT_EQ(f.get(), -1);
  EXPECT_FALSE(f);
}

TEST(UniqueFd, ClosesWhenDestroyed) {
  int fd = open_fd();
  ASSERT_GE(fd, 0);
  {
    UniqueFd f(fd);
    EXPECT_TRUE(f);
    EXPECT_EQ(f.get(), fd);
  }
  EXPECT_FALSE(is_open(fd));
}

TEST(UniqueFd, ReleaseGivesUpOwnership) {
  int fd = open_fd();
  ASSERT_GE(fd, 0);
  {
    UniqueFd f(fd);
    EXPECT_EQ(f.release(), fd);
    EXPECT_FALSE(f);
  }
  EXPECT_TRUE(is_open(fd));
  close(fd);
}

TEST(UniqueFd, MoveTransfersOwnership) {
  int a = open_fd(), b = open_fd();
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  UniqueFd fa(a);
  UniqueFd moved(std::move(fa));
  EXPECT_FALSE(fa);
  EXPECT_EQ(moved.get(), a);
  UniqueFd fb(b);
  fb = std::move(moved);  // closes b, takes a
  EXPECT_FALSE(is_open(b));
  EXPECT_EQ(fb.get(), a);
  EXPECT_TRUE(is_open(a));
}

TEST(UniqueFd, ResetClosesAndKeepsErrno) {
  int a = open_fd(), b = open_fd();
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  UniqueFd f(a);
  errno = EMFILE;
  f.reset(b);
  EXPECT_EQ(errno, EMFILE);
  EXPECT_FALSE(is_open(a));
  EXPECT_EQ(f.get(), b);
  f.reset();
  EXPECT_FALSE(is_open(b));
  EXPECT_FALSE(f);
}
