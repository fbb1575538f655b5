// UniqueFd: the one owner of a file descriptor; closes it when destroyed.
// Move-only. Hand the descriptor to a new owner with release() only once
// that owner exists (bufferevent_socket_new, say), so a failure in between
// still closes it.
#pragma once

#include <cerrno>
#include <utility>

#include <unistd.h>

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Gives up ownership: the caller closes what it gets.
  int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the descriptor held (errno survives, for log_warn) and takes fd.
  void reset(int fd = -1) noexcept {
    int old = std::exchange(fd_, fd);
    if (old >= 0) {
      int saved = errno;
      ::close(old);
      errno = saved;
    }
  }

 private:
  int fd_ = -1;
};
