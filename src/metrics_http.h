// The metrics endpoint (METRICS_LISTEN, --metrics-listen): libevent's
// evhttp serving GET /metrics (the text render() returns, Prometheus text
// format 0.0.4) and GET /ready (200 while ready() is true, else 503), and,
// with a mapping check set, GET /ready?mapping=NAME (its answer); any other
// path is 404. A peer outside the allow list (default: loopback)
// gets 403 and a log line, throttled so a scanner costs a few lines.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <event2/http.h>

#include "access.h"
#include "ev.h"
#include "log_throttle.h"

using EvhttpPtr = std::unique_ptr<evhttp, CFree<evhttp_free>>;

class MetricsHttp {
 public:
  MetricsHttp(event_base* base, std::function<std::string()> render, std::function<bool()> ready);
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  // Listens on host (an IP literal) and port; false with err.
  bool listen(const std::string& host, uint16_t port, std::string& err);
  // Who may scrape; an empty list means loopback only.
  void set_allow(std::vector<Cidr> allow);
  // /ready?mapping=NAME: check(NAME, body) returns the HTTP status (200,
  // 503, 404) and fills the body's one line. Asked only while ready().
  using MappingCheck = std::function<int(const std::string& mapping, std::string& body)>;
  void set_mapping_check(MappingCheck check) { mapping_check_ = std::move(check); }
  bool listening() const { return http_ != nullptr; }

 private:
  static void request_cb(evhttp_request* req, void* arg) noexcept;
  void on_request(evhttp_request* req);
  void reply(evhttp_request* req, int code, const char* reason, const std::string& body,
             const char* type);

  event_base* base_;
  std::function<std::string()> render_;
  std::function<bool()> ready_;
  MappingCheck mapping_check_;
  AccessList allow_;
  LogThrottle denied_log_{60000};  // refused peers
  int64_t denied_logged_ms_ = 0;
  EvhttpPtr http_;
};

// The default METRICS_ALLOW: 127.0.0.0/8 and ::1.
std::vector<Cidr> loopback_cidrs();
