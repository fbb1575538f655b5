#include "daemon.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privileges.h"

namespace {
int g_ready_fd = -1;  // write end of the readiness pipe, in the daemon
}

bool daemonize(std::string& err) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    err = std::string("pipe: ") + strerror(errno);
    return false;
  }
  pid_t pid = fork();
  if (pid < 0) {
    err = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid > 0) {
    // The original process: wait for the word from the daemon.
    close(pipefd[1]);
    char c = 0;
    ssize_t n;
    do {
      n = read(pipefd[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    waitpid(pid, nullptr, 0);  // the intermediate child exits at once
    _exit(n == 1 ? 0 : 1);
  }
  close(pipefd[0]);
  if (setsid() < 0) {
    err = std::string("setsid: ") + strerror(errno);
    return false;
  }
  // A second fork: the daemon is not a session leader and so can never
  // acquire a controlling terminal again.
  pid = fork();
  if (pid < 0) {
    err = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid > 0) _exit(0);
  g_ready_fd = pipefd[1];
  if (chdir("/") != 0) {
    err = std::string("chdir /: ") + strerror(errno);
    return false;
  }
  umask(022);
  int fd = open("/dev/null", O_RDWR);
  if (fd < 0) {
    err = std::string("/dev/null: ") + strerror(errno);
    return false;
  }
  dup2(fd, STDIN_FILENO);
  dup2(fd, STDOUT_FILENO);
  dup2(fd, STDERR_FILENO);
  if (fd > STDERR_FILENO) close(fd);
  return true;
}

void daemon_ready() {
  if (g_ready_fd < 0) return;
  char c = 1;
  ssize_t n;
  do {
    n = write(g_ready_fd, &c, 1);
  } while (n < 0 && errno == EINTR);
  close(g_ready_fd);
  g_ready_fd = -1;
}

std::string absolute_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return path;
  return std::string(cwd) + "/" + path;
}

bool write_pid_file(const std::string& path, std::string& err) {
  // Written as root, maybe in a folder the service user can write: never
  // follow a link planted at PATH.tmp (O_NOFOLLOW|O_EXCL, after removing a
  // stale one; unlink does not follow either), and rename() replaces a link
  // at PATH instead of writing through it.
  std::string tmp = path + ".tmp";
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    err = path + ": cannot remove the stale " + tmp + ": " + strerror(errno);
    return false;
  }
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = path + ": cannot create " + tmp + ": " + strerror(errno);
    return false;
  }
  std::string text = std::to_string(static_cast<long>(getpid())) + "\n";
  ssize_t n;
  do {
    n = write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  bool written = n == static_cast<ssize_t>(text.size());
  int saved = n < 0 ? errno : EIO;  // a short write to a new file: treat as I/O error
  if (close(fd) != 0 && written) {
    written = false;
    saved = errno;
  }
  if (!written) {
    err = path + ": cannot write " + tmp + ": " + strerror(saved);
    unlink(tmp.c_str());
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    err = path + ": cannot rename " + tmp + " to it: " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool give_pid_file(const std::string& path, const std::string& user, const std::string& group,
                   std::string& err) {
  if (path.empty() || (user.empty() && group.empty())) return true;
  uid_t uid = static_cast<uid_t>(-1);  // -1: leave as is
  gid_t gid = static_cast<gid_t>(-1);
  if (!resolve_user_group(user, group, uid, gid, err)) return false;
  if (lchown(path.c_str(), uid, gid) != 0) {  // the file we just renamed into place
    err = path + ": cannot hand it to " + (user.empty() ? group : user) + ": " + strerror(errno);
    return false;
  }
  return true;
}

bool remove_pid_file(const std::string& path, std::string& err) {
  if (path.empty() || unlink(path.c_str()) == 0 || errno == ENOENT) return true;
  if (errno != EACCES && errno != EPERM) {
    err = path + ": cannot remove it: " + strerror(errno);
    return false;
  }
  // Its folder belongs to root and we do not any more: leave an empty file,
  // which no tool takes for a running daemon.
  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    err = path + ": cannot remove it (its folder is not writable by this user) nor empty it: " +
          strerror(errno);
    return false;
  }
  close(fd);
  err = path + ": emptied, not removed: its folder is not writable by this user (put the pid "
        "file in a folder the user owns, such as a RuntimeDirectory=, to have it removed)";
  return false;
}

void remove_pid_file(const std::string& path) {
  std::string err;
  remove_pid_file(path, err);
}
