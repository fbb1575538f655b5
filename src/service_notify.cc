#include "service_notify.h"

#include <cstdlib>
#include <ctime>

#include <systemd/sd-daemon.h>

#include "log.h"

ServiceNotifier::ServiceNotifier(event_base* base) : enabled_(getenv("NOTIFY_SOCKET") != nullptr) {
  if (!enabled_) return;
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is ours.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_.reset(event_new(base, -1, EV_PERSIST, watchdog_cb, this));
    uint64_t half = usec / 2;
    timeval tv{static_cast<time_t>(half / 1000000), static_cast<suseconds_t>(half % 1000000)};
    if (watchdog_) event_add(watchdog_.get(), &tv);
    log_info("systemd watchdog: every %.1f s", static_cast<double>(half) / 1e6);
  }
  status_timer_.reset(event_new(base, -1, EV_PERSIST, status_cb, this));
}

void ServiceNotifier::send(const std::string& state) {
  if (!enabled_) return;
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) log_debug("sd_notify: error %d", -rc);
}

void ServiceNotifier::ready() {
  if (!enabled_ || ready_) return;
  ready_ = true;
  send("READY=1");
}

void ServiceNotifier::reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  ready_ = false;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotifier::stopping() { send("STOPPING=1"); }

void ServiceNotifier::keep_status(std::function<std::string()> summary, int interval_sec) {
  if (!enabled_ || !status_timer_) return;
  summary_ = std::move(summary);
  timeval tv{interval_sec, 0};
  event_add(status_timer_.get(), &tv);
  refresh_status();
}

void ServiceNotifier::refresh_status() {
  if (!summary_) return;
  std::string line = summary_();
  if (line == last_status_) return;
  last_status_ = line;
  send("STATUS=" + line);
}

void ServiceNotifier::watchdog_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ServiceNotifier*>(arg)->send("WATCHDOG=1");
}

void ServiceNotifier::status_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ServiceNotifier*>(arg)->refresh_status();
}
