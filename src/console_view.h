// forward-client's live console, the pure half: what the console knows
// (channels, exposed ports, the last HTTP requests, the last log lines, the
// client's figures) and the text it shows, as lines fitted to a terminal,
// plus the summary printed on exit. No libevent and no I/O: console.*
// feeds it from the loop and writes what it renders.
//
// Every string that reaches the screen (request paths from the internet,
// a server's refusal text, log lines) is cleaned first: control characters,
// C1 controls and bytes that are not UTF-8 become '?', so nobody can move
// the cursor or retitle the terminal through the console.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "client_events.h"
#include "metrics_report.h"

class ConsoleView {
 public:
  struct Setup {
    std::string version;               // PACKAGE_VERSION
    std::string tag;                   // --tag
    std::vector<std::string> servers;  // "HOST:PORT", as given
    size_t max_requests = 50;          // request rows kept (the screen shows what fits)
    size_t max_log_lines = 6;          // log lines kept and shown
  };

  // now_ms: when the client started (the uptime's origin), any clock that
  // render() and summary() are given too.
  ConsoleView(Setup setup, int64_t now_ms);

  // ClientEvents, as the client reports them.
  void channel_up(const std::string& server, const std::string& tls);
  void channel_down(const std::string& server, const std::string& why);
  void exposed(const std::string& spec, const std::string& url, const std::string& target);
  void expose_refused(const std::string& spec, const std::string& why);
  void request(const RequestRecord& r);
  // A log line, as the log would have printed it.
  void log_line(const std::string& line);
  // TERM/INT: the client drains its streams before it exits.
  void stopping() { stopping_ = true; }
  // The client's figures (streams, bytes), refreshed before each render.
  void set_metrics(const ClientMetrics& m) { metrics_ = m; }

  // The screen: at most height lines, none wider than width columns.
  std::vector<std::string> render(size_t width, size_t height, int64_t now_ms) const;
  // The exit summary, one item per line, each line ending in '\n'.
  std::string summary(int64_t now_ms) const;

  // Requests by status class: [0] no response, [1] 1xx ... [5] 5xx.
  const uint64_t* status_classes() const { return classes_; }
  size_t requests_kept() const { return requests_.size(); }

 private:
  struct Server {
    std::string name;
    enum class State { connecting, up, down } state = State::connecting;
    std::string tls;  // "TLSv1.3 TLS_AES_256_GCM_SHA384" or "" (plain)
    std::string why;  // the last reason it went down
  };
  struct Exposure {
    std::string spec, url, target, refused;
  };

  Server& server(const std::string& name);
  std::string session_status() const;
  std::vector<std::string> head_lines(int64_t now_ms) const;
  std::vector<std::string> request_lines(size_t max) const;
  std::string classes_text() const;

  Setup setup_;
  int64_t started_ms_;
  bool stopping_ = false;
  std::vector<Server> servers_;
  std::vector<Exposure> exposures_;  // in the order first reported
  std::deque<RequestRecord> requests_;
  std::deque<std::string> log_;
  ClientMetrics metrics_;
  // Over every request, not only those kept.
  uint64_t requests_total_ = 0;
  uint64_t classes_[6] = {0, 0, 0, 0, 0, 0};
  uint64_t answered_ = 0;  // with a status, the ones latency counts
  uint64_t latency_min_us_ = 0, latency_max_us_ = 0, latency_sum_us_ = 0;
};

// s made safe for a terminal (see above).
std::string console_clean(const std::string& s);
// s cut to at most width columns (a code point is a column), "..." marking
// a cut when there is room for it.
std::string console_fit(const std::string& s, size_t width);
// "850 us", "12.3 ms", "1.50 s".
std::string console_latency(uint64_t us);
