// The standard process_* metrics, read from /proc/self (Linux). The
// parsers are pure and take the text; read_process_stats() does the I/O.
#pragma once

#include <cstdint>
#include <string>

struct ProcessStats {
  double cpu_seconds = 0;          // user + system
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double start_time_seconds = 0;   // since the epoch
  int64_t open_fds = -1;           // -1: unknown
  int64_t max_fds = -1;            // soft RLIMIT_NOFILE; -1: unknown or unlimited
};

// /proc/self/stat: utime, stime, starttime (clock ticks since boot), vsize
// and rss (pages). boot_time is /proc/stat's btime. false if malformed.
bool parse_proc_self_stat(const std::string& text, long ticks_per_sec, long page_size,
                          double boot_time, ProcessStats& out);
// /proc/stat: the "btime N" line.
bool parse_boot_time(const std::string& text, double& out);
// /proc/self/limits: the soft "Max open files" ("unlimited": false).
bool parse_max_open_files(const std::string& text, int64_t& out);

// All of the above for this process; what cannot be read is left at its default.
ProcessStats read_process_stats();
