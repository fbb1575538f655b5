#include "daemon.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (!f) {
    err = path + ": " + strerror(errno);
    return false;
  }
  fprintf(f, "%ld\n", static_cast<long>(getpid()));
  if (fclose(f) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    err = path + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

void remove_pid_file(const std::string& path) {
  if (!path.empty()) unlink(path.c_str());
}
