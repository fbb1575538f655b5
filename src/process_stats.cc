#include "process_stats.h"

#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <sstream>
#include <unistd.h>
#include <vector>

#include "config.h"

bool parse_proc_self_stat(const std::string& text, long ticks_per_sec, long page_size,
                          double boot_time, ProcessStats& out) {
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos || ticks_per_sec <= 0) return false;
  std::istringstream in(text.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string tok;
  while (in >> tok) f.push_back(tok);
  if (f.size() < 22) return false;
  char* end = nullptr;
  auto num = [&](size_t field, unsigned long long& v) {
    const std::string& s = f[field - 3];
    v = strtoull(s.c_str(), &end, 10);
    return !s.empty() && *end == '\0';
  };
  unsigned long long utime, stime, start, vsize, rss;
  if (!num(14, utime) || !num(15, stime) || !num(22, start) || !num(23, vsize) || !num(24, rss))
    return false;
  out.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks_per_sec);
  out.start_time_seconds = boot_time + static_cast<double>(start) / static_cast<double>(ticks_per_sec);
  out.virtual_bytes = vsize;
  out.resident_bytes = rss * static_cast<unsigned long long>(page_size);
  return true;
}

bool parse_boot_time(const std::string& text, double& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "btime ") != 0) continue;
    char* end = nullptr;
    unsigned long long v = strtoull(line.c_str() + 6, &end, 10);
    if (end == line.c_str() + 6) return false;
    out = static_cast<double>(v);
    return true;
  }
  return false;
}

bool parse_max_open_files(const std::string& text, int64_t& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 14, "Max open files") != 0) continue;
    std::istringstream fields(line.substr(14));
    std::string soft;
    if (!(fields >> soft) || soft == "unlimited") return false;
    char* end = nullptr;
    long long v = strtoll(soft.c_str(), &end, 10);
    if (*end != '\0' || v < 0) return false;
    out = v;
    return true;
  }
  return false;
}

namespace {
int64_t count_open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int64_t n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory's own descriptor
}
}  // namespace

ProcessStats read_process_stats() {
  ProcessStats p;
  std::string text, err;
  double boot = 0;
  if (read_file("/proc/stat", text, err)) parse_boot_time(text, boot);
  if (read_file("/proc/self/stat", text, err))
    parse_proc_self_stat(text, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot, p);
  if (read_file("/proc/self/limits", text, err)) parse_max_open_files(text, p.max_fds);
  p.open_fds = count_open_fds();
  return p;
}
