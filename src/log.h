// Logging in the style of relayd's log.c: stderr in the foreground, syslog
// when asked. log_warn appends strerror(errno); log_warnx does not. errno is
// preserved across every call so callers can log before inspecting it.
#pragma once

#include <functional>
#include <string>
#include <vector>

enum class LogLevel { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

// Parses debug|info|notice|warning|error (case-insensitive); false if unknown.
bool parse_log_level(const std::string& text, LogLevel& out);
const char* log_level_name(LogLevel level);

// ident is the syslog identity ("forward-server"); facility is LOG_DAEMON.
void log_init(const char* ident, bool to_syslog, LogLevel level);
void log_set_level(LogLevel level);
LogLevel log_get_level();
bool log_enabled(LogLevel level);

void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// While a sink is set, each line that would go to stderr goes to it
// instead, as it would have been printed, without the newline
// (forward-client's console shows the last ones); syslog is not affected.
// fatal() and fatalx() drop the sink first, so their line reaches stderr.
// An empty function restores stderr.
void log_set_sink(std::function<void(const std::string&)> sink);

// Startup only: log and exit(1).
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void fatalx(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// While one is alive, every message at notice level or above is also kept
// in it, whatever LOG_LEVEL says (forward-ctl reload answers with the
// reload's own lines). The newest one gets them; they nest.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  const std::vector<std::string>& lines() const { return lines_; }
  void add(LogLevel level, const std::string& text);

 private:
  std::vector<std::string> lines_;
  LogCapture* outer_;
};
