#include "state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "unique_fd.h"

namespace {

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool write_state_file(const std::string& path, const std::string& text, std::string& err) {
  std::string dir = dir_of(path);
  std::string tmp = path + ".new-XXXXXX";
  UniqueFd fd(mkostemp(&tmp[0], O_CLOEXEC));
  if (!fd) {
    err = path + ": cannot create a temporary file in " + dir + ": " + strerror(errno);
    return false;
  }
  const char* step = nullptr;
  if (fchmod(fd.get(), 0640) != 0)
    step = "chmod";
  else if (!write_all(fd.get(), text))
    step = "write";
  else if (fsync(fd.get()) != 0)
    step = "fsync";
  else if (close(fd.release()) != 0)
    step = "close";
  else if (rename(tmp.c_str(), path.c_str()) != 0)
    step = "rename";
  if (step) {
    err = path + ": " + step + " " + tmp + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  // The rename is durable once the folder is.
  UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d || fsync(d.get()) != 0) {
    err = path + ": fsync of " + dir + ": " + strerror(errno);
    return false;
  }
  return true;
}
