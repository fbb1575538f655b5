#include "daemon.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

bool daemonize(std::string& err) {
  pid_t pid = fork();
  if (pid < 0) {
    err = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid > 0) _exit(0);
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
