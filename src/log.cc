#include "log.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <strings.h>
#include <sys/time.h>
#include <syslog.h>

#include <event2/event.h>

namespace {

bool g_syslog = false;
LogLevel g_level = LogLevel::info;
const char* g_ident = "tcp-forward";
LogCapture* g_capture = nullptr;
std::function<void(const std::string&)> g_sink;

void vlog(LogLevel level, const char* fmt, va_list ap, const char* suffix) {
  bool captured = g_capture && level <= LogLevel::notice;
  if (!captured && !log_enabled(level)) return;
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (captured) g_capture->add(level, suffix ? std::string(msg) + ": " + suffix : std::string(msg));
  if (!log_enabled(level)) return;
  if (g_syslog) {
    if (suffix)
      syslog(static_cast<int>(level), "%s: %s", msg, suffix);
    else
      syslog(static_cast<int>(level), "%s", msg);
    return;
  }
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  char line[2560];
  if (suffix)
    snprintf(line, sizeof line, "%s.%03ld %s[%s]: %s: %s", stamp,
             static_cast<long>(tv.tv_usec / 1000), g_ident, log_level_name(level), msg, suffix);
  else
    snprintf(line, sizeof line, "%s.%03ld %s[%s]: %s", stamp, static_cast<long>(tv.tv_usec / 1000),
             g_ident, log_level_name(level), msg);
  if (g_sink)
    g_sink(line);
  else
    fprintf(stderr, "%s\n", line);
}

// libevent's own warnings would otherwise go to stderr unformatted.
void libevent_log(int severity, const char* msg) {
  switch (severity) {
    case EVENT_LOG_DEBUG: log_debug("libevent: %s", msg); break;
    case EVENT_LOG_MSG: log_info("libevent: %s", msg); break;
    case EVENT_LOG_WARN: log_warnx("libevent: %s", msg); break;
    default: log_error("libevent: %s", msg); break;
  }
}

}  // namespace

bool parse_log_level(const std::string& text, LogLevel& out) {
  static const struct { const char* name; LogLevel level; } names[] = {
      {"debug", LogLevel::debug},     {"info", LogLevel::info},
      {"notice", LogLevel::notice},   {"warning", LogLevel::warning},
      {"warn", LogLevel::warning},    {"error", LogLevel::error},
      {"err", LogLevel::error},
  };
  for (const auto& n : names)
    if (strcasecmp(text.c_str(), n.name) == 0) {
      out = n.level;
      return true;
    }
  return false;
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::error: return "error";
    case LogLevel::warning: return "warning";
    case LogLevel::notice: return "notice";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
  }
  return "?";
}

void log_init(const char* ident, bool to_syslog, LogLevel level) {
  g_ident = ident;
  g_syslog = to_syslog;
  g_level = level;
  if (to_syslog) openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
  event_set_log_callback(libevent_log);
}

void log_set_level(LogLevel level) { g_level = level; }
LogLevel log_get_level() { return g_level; }
bool log_enabled(LogLevel level) { return static_cast<int>(level) <= static_cast<int>(g_level); }

void log_set_sink(std::function<void(const std::string&)> sink) { g_sink = std::move(sink); }

#define LOG_BODY(level, suffix)   \
  int saved = errno;              \
  va_list ap;                     \
  va_start(ap, fmt);              \
  vlog(level, fmt, ap, suffix);   \
  va_end(ap);                     \
  errno = saved;

void log_warn(const char* fmt, ...) {
  const char* err = strerror(errno);
  LOG_BODY(LogLevel::warning, err)
}
void log_warnx(const char* fmt, ...) { LOG_BODY(LogLevel::warning, nullptr) }
void log_notice(const char* fmt, ...) { LOG_BODY(LogLevel::notice, nullptr) }
void log_info(const char* fmt, ...) { LOG_BODY(LogLevel::info, nullptr) }
void log_debug(const char* fmt, ...) { LOG_BODY(LogLevel::debug, nullptr) }
void log_error(const char* fmt, ...) { LOG_BODY(LogLevel::error, nullptr) }

void fatal(const char* fmt, ...) {
  const char* err = strerror(errno);
  g_sink = nullptr;
  LOG_BODY(LogLevel::error, err)
  exit(1);
}
void fatalx(const char* fmt, ...) {
  g_sink = nullptr;
  LOG_BODY(LogLevel::error, nullptr)
  exit(1);
}

LogCapture::LogCapture() : outer_(g_capture) { g_capture = this; }

LogCapture::~LogCapture() { g_capture = outer_; }

void LogCapture::add(LogLevel level, const std::string& text) {
  lines_.push_back(std::string(log_level_name(level)) + ": " + text);
}
