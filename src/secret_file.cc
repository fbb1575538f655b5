#include "secret_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

namespace {

// Key files are a few hundred bytes; a PEM chain a few KiB.
constexpr off_t kMaxSecretBytes = 1 << 20;

// Closes the descriptor on every return path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

std::string mode_text(mode_t mode) {
  char buf[8];
  snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

bool read_secret_file(const std::string& path, std::string& text, std::string& err) {
  // O_NOFOLLOW: a link planted in place of the key is refused, not read.
  // O_NONBLOCK: opening a FIFO must not hang the daemon; fstat refuses it.
  Fd f{open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (f.fd < 0) {
    int e = errno;
    struct stat lst;
    if (e == ELOOP && lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
      err = "is a symbolic link; name the file itself";
    else
      err = strerror(e);
    return false;
  }
  struct stat st;
  if (fstat(f.fd, &st) != 0) {
    err = std::string("fstat: ") + strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    err = "not a regular file";
    return false;
  }
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    err = "key file is accessible by other users (mode " + mode_text(st.st_mode) +
          "); chmod 600 or 640 it";
    return false;
  }
  if (st.st_mode & S_IWGRP) {
    err = "key file is writable by its group (mode " + mode_text(st.st_mode) +
          "); chmod 600 or 640 it";
    return false;
  }
  if (st.st_size > kMaxSecretBytes) {
    err = "too large for a key file (" + std::to_string(st.st_size) + " bytes)";
    return false;
  }
  std::string out(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t used = 0;
  // Bounded: each pass reads at least one byte or ends; the +1 spots growth.
  while (used < out.size()) {
    ssize_t n = read(f.fd, &out[used], out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = strerror(errno);
      wipe_secret(out);
      return false;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > static_cast<size_t>(st.st_size)) {
    err = "changed while being read";
    wipe_secret(out);
    return false;
  }
  out.resize(used);
  text.swap(out);
  return true;
}

void wipe_secret(std::string& text) {
  if (!text.empty()) OPENSSL_cleanse(&text[0], text.size());
  text.clear();
}
