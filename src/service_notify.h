// Tells systemd where a daemon is (sd_notify, for Type=notify units):
// READY=1 once it serves, RELOADING=1 and READY=1 around a reload,
// STOPPING=1, a one-line STATUS= kept current, and WATCHDOG=1 at half the
// interval systemd asks for, from a loop timer, so that a stalled event
// loop gets the daemon restarted. Without NOTIFY_SOCKET (not started by
// systemd) every call does nothing.
#pragma once

#include <functional>
#include <string>

#include "ev.h"

class ServiceNotifier {
 public:
  explicit ServiceNotifier(event_base* base);
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  void ready();      // idempotent
  void reloading();  // RELOADING=1 with MONOTONIC_USEC; ready() ends it
  void stopping();
  // Asks summary() every interval_sec seconds and sends STATUS= when the
  // line changed (and once at once).
  void keep_status(std::function<std::string()> summary, int interval_sec = 2);

 private:
  static void watchdog_cb(evutil_socket_t, short, void* arg) noexcept;
  static void status_cb(evutil_socket_t, short, void* arg) noexcept;
  void send(const std::string& state);
  void refresh_status();

  bool enabled_;
  bool ready_ = false;
  EventPtr watchdog_;
  EventPtr status_timer_;
  std::function<std::string()> summary_;
  std::string last_status_;
};
