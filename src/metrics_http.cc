#include "metrics_http.h"

#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include <cerrno>
#include <cstring>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "address.h"
#include "log.h"

std::vector<Cidr> loopback_cidrs() {
  std::vector<Cidr> out;
  std::vector<std::string> errors;
  parse_cidr_list("127.0.0.0/8 ::1", out, errors);
  return out;
}

MetricsHttp::MetricsHttp(event_base* base, std::function<std::string()> render,
                         std::function<bool()> ready)
    : base_(base), render_(std::move(render)), ready_(std::move(ready)) {
  allow_.allow = loopback_cidrs();
}

void MetricsHttp::set_allow(std::vector<Cidr> allow) {
  allow_.allow = allow.empty() ? loopback_cidrs() : std::move(allow);
}

bool MetricsHttp::listen(const std::string& host, uint16_t port, std::string& err) {
  EvhttpPtr http(evhttp_new(base_));
  if (!http) {
    err = "out of memory";
    return false;
  }
  evhttp_set_allowed_methods(http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_timeout(http.get(), 10);
  evhttp_set_max_headers_size(http.get(), 16384);
  evhttp_set_max_body_size(http.get(), 0);
  evhttp_set_gencb(http.get(), request_cb, this);
  if (!evhttp_bind_socket_with_handle(http.get(), host.c_str(), port)) {
    err = "cannot listen on " + format_host_port(host, port) + ": " + strerror(errno);
    return false;
  }
  http_ = std::move(http);
  return true;
}

void MetricsHttp::request_cb(evhttp_request* req, void* arg) noexcept {
  static_cast<MetricsHttp*>(arg)->on_request(req);
}

void MetricsHttp::reply(evhttp_request* req, int code, const char* reason, const std::string& body,
                        const char* type) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", type);
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evbuffer* out = evbuffer_new();
  if (!out) {
    evhttp_send_error(req, HTTP_INTERNAL, nullptr);
    return;
  }
  evbuffer_add(out, body.data(), body.size());
  evhttp_send_reply(req, code, reason, out);
  evbuffer_free(out);
}

void MetricsHttp::on_request(evhttp_request* req) {
  const sockaddr* peer = nullptr;
  if (evhttp_connection* conn = evhttp_request_get_connection(req))
    peer = evhttp_connection_get_addr(conn);
  if (!allow_.permits(peer)) {
    int64_t now = loop_time_ms(base_);
    std::string who = peer ? format_sockaddr(peer) : "?";
    if (denied_log_.admit(now)) {
      log_notice("metrics: request from %s refused (not in METRICS_ALLOW)", who.c_str());
      denied_logged_ms_ = now;
    } else if (now - denied_logged_ms_ >= denied_log_.interval_ms()) {
      uint64_t n = denied_log_.take_suppressed(now);
      log_notice("metrics: %llu more requests refused (not in METRICS_ALLOW), the last from %s",
                 static_cast<unsigned long long>(n), who.c_str());
      denied_logged_ms_ = now;
    }
    reply(req, 403, "Forbidden", "forbidden\n", "text/plain; charset=utf-8");
    return;
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  std::string p = path ? path : "";
  if (p == "/metrics") {
    reply(req, HTTP_OK, "OK", render_(), "text/plain; version=0.0.4; charset=utf-8");
  } else if (p == "/ready") {
    std::string mapping;
    if (const char* query = uri ? evhttp_uri_get_query(uri) : nullptr) {
      evkeyvalq params;
      TAILQ_INIT(&params);
      if (evhttp_parse_query_str(query, &params) == 0)
        if (const char* v = evhttp_find_header(&params, "mapping")) mapping = v;
      evhttp_clear_headers(&params);
    }
    if (!ready_()) {
      reply(req, 503, "Service Unavailable", "not ready\n", "text/plain; charset=utf-8");
    } else if (mapping.empty() || !mapping_check_) {
      reply(req, HTTP_OK, "OK", "ready\n", "text/plain; charset=utf-8");
    } else {
      std::string body;
      int code = mapping_check_(mapping, body);
      const char* reason = code == 200 ? "OK" : code == 404 ? "Not Found" : "Service Unavailable";
      reply(req, code, reason, body + "\n", "text/plain; charset=utf-8");
    }
  } else {
    reply(req, HTTP_NOTFOUND, "Not Found", "not found: try /metrics or /ready\n",
          "text/plain; charset=utf-8");
  }
}
