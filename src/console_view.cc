#include "console_view.h"

#include <algorithm>
#include <cstdio>

#include "ctl_format.h"

namespace {

constexpr size_t kLabelWidth = 20;

// "label               value"
std::string row(const std::string& label, const std::string& value) {
  std::string s = label;
  s.resize(std::max(kLabelWidth, label.size() + 1), ' ');
  return s + value;
}

// "45s", "1m23s", "1h02m03s", "2d03h04m": the uptime, seconds kept below a day.
std::string uptime_text(int64_t ms) {
  long long s = ms > 0 ? ms / 1000 : 0;
  char buf[48];
  if (s < 60)
    snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600)
    snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400)
    snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
  else
    snprintf(buf, sizeof buf, "%lldd%02lldh%02lldm", s / 86400, s / 3600 % 24, s / 60 % 60);
  return buf;
}

// The length of the UTF-8 sequence s[i] starts, or 0 if it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8_sequence(const std::string& s, size_t i, uint32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

const char* const kClassNames[6] = {"no response", "1xx", "2xx", "3xx", "4xx", "5xx"};

}  // namespace

std::string console_clean(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_sequence(s, i, cp);
    if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
      out += '?';
      i += n ? n : 1;
      continue;
    }
    out.append(s, i, n);
    i += n;
  }
  return out;
}

std::string console_fit(const std::string& s, size_t width) {
  // Byte offsets where each code point starts (s is clean UTF-8).
  size_t columns = 0, cut3 = 0, cut = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) continue;
    if (columns + 3 == width) cut3 = i;
    if (columns == width) {
      cut = i;
      break;
    }
    ++columns;
  }
  if (cut == s.size()) return s;
  if (width < 4) return s.substr(0, cut);
  return s.substr(0, cut3) + "...";
}

std::string console_latency(uint64_t us) {
  char buf[32];
  if (us < 1000)
    snprintf(buf, sizeof buf, "%llu us", static_cast<unsigned long long>(us));
  else if (us < 1000000)
    snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(us) / 1e3);
  else
    snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(us) / 1e6);
  return buf;
}

ConsoleView::ConsoleView(Setup setup, int64_t now_ms)
    : setup_(std::move(setup)), started_ms_(now_ms) {
  for (const std::string& name : setup_.servers) server(console_clean(name));
}

ConsoleView::Server& ConsoleView::server(const std::string& name) {
  for (Server& s : servers_)
    if (s.name == name) return s;
  Server s;
  s.name = name;
  servers_.push_back(std::move(s));
  return servers_.back();
}

void ConsoleView::channel_up(const std::string& name, const std::string& tls) {
  Server& s = server(console_clean(name));
  s.state = Server::State::up;
  std::string t = console_clean(tls);
  if (t.compare(0, 2, ", ") == 0) t.erase(0, 2);  // Tunnel::tls_summary's form
  s.tls = t;
}

void ConsoleView::channel_down(const std::string& name, const std::string& why) {
  Server& s = server(console_clean(name));
  s.state = Server::State::down;
  s.why = console_clean(why);
}

void ConsoleView::exposed(const std::string& spec, const std::string& url,
                          const std::string& target) {
  std::string key = console_clean(spec);
  for (Exposure& e : exposures_)
    if (e.spec == key) {
      e = Exposure{key, console_clean(url), console_clean(target), ""};
      return;
    }
  exposures_.push_back(Exposure{key, console_clean(url), console_clean(target), ""});
}

void ConsoleView::expose_refused(const std::string& spec, const std::string& why) {
  std::string key = console_clean(spec);
  std::string reason = why.empty() ? "refused" : console_clean(why);
  for (Exposure& e : exposures_)
    if (e.spec == key) {
      e = Exposure{key, "", "", reason};
      return;
    }
  exposures_.push_back(Exposure{key, "", "", reason});
}

void ConsoleView::request(const RequestRecord& r) {
  ++requests_total_;
  bool answered = r.status >= 100 && r.status <= 599;
  ++classes_[answered ? r.status / 100 : 0];
  if (answered) {
    latency_min_us_ = answered_ ? std::min(latency_min_us_, r.latency_us) : r.latency_us;
    latency_max_us_ = std::max(latency_max_us_, r.latency_us);
    latency_sum_us_ += r.latency_us;
    ++answered_;
  }
  if (setup_.max_requests == 0) return;
  RequestRecord kept = r;
  kept.method = console_clean(r.method);
  kept.path = console_clean(r.path);
  kept.peer = console_clean(r.peer);
  kept.mapping = console_clean(r.mapping);
  requests_.push_back(std::move(kept));
  while (requests_.size() > setup_.max_requests) requests_.pop_front();
}

void ConsoleView::log_line(const std::string& line) {
  if (setup_.max_log_lines == 0) return;
  log_.push_back(console_clean(line));
  while (log_.size() > setup_.max_log_lines) log_.pop_front();
}

// online (a channel is up), connecting (none has been yet), reconnecting
// with the last reason a channel went down, or stopping.
std::string ConsoleView::session_status() const {
  if (stopping_) return "stopping (streams get up to 10 s to finish)";
  const Server* down = nullptr;
  for (const Server& s : servers_) {
    if (s.state == Server::State::up) return "online";
    if (s.state == Server::State::down) down = &s;
  }
  if (!down) return "connecting";
  return down->why.empty() ? "reconnecting" : "reconnecting (" + down->why + ")";
}

std::vector<std::string> ConsoleView::head_lines(int64_t now_ms) const {
  std::vector<std::string> out;
  out.push_back("forward-client (tcp-forward " + setup_.version + ")");
  out.push_back("");
  out.push_back(row("Session Status", session_status()));
  for (size_t i = 0; i < servers_.size(); ++i) {
    const Server& s = servers_[i];
    std::string state;
    switch (s.state) {
      case Server::State::up: state = "online, " + (s.tls.empty() ? "plain" : s.tls); break;
      case Server::State::connecting: state = "connecting"; break;
      case Server::State::down:
        state = s.why.empty() ? "reconnecting" : "reconnecting: " + s.why;
        break;
    }
    out.push_back(row(i == 0 ? (servers_.size() > 1 ? "Servers" : "Server") : "",
                      s.name + "  " + state));
  }
  out.push_back(row("Tag", setup_.tag));
  out.push_back(row("Uptime", uptime_text(now_ms - started_ms_)));
  if (metrics_.rtt_ms >= 0)  // once a PING has come back
    out.push_back(row("Round trip", std::to_string(metrics_.rtt_ms) + " ms"));
  if (exposures_.empty())
    out.push_back(row("Forwarding", "the server's mappings of tag " + setup_.tag));
  for (size_t i = 0; i < exposures_.size(); ++i) {
    const Exposure& e = exposures_[i];
    std::string text = e.refused.empty() ? e.url + " -> " + e.target
                                         : e.spec + ": refused: " + e.refused;
    out.push_back(row(i == 0 ? "Forwarding" : "", text));
  }
  out.push_back(row("Streams", std::to_string(metrics_.streams) + " open, " +
                                   std::to_string(metrics_.streams_total) + " total"));
  out.push_back(row("Bytes", human_bytes(metrics_.bytes_to_targets) + " to targets, " +
                                 human_bytes(metrics_.bytes_from_targets) + " from targets"));
  if (requests_total_)
    out.push_back(row("Requests", std::to_string(requests_total_) + " (" + classes_text() + ")"));
  return out;
}

// "2xx 10, 3xx 0, 4xx 2, 5xx 0": 1xx and no response only when there were any.
std::string ConsoleView::classes_text() const {
  std::string out;
  for (size_t c = 1; c < 6; ++c)
    if (classes_[c] || c >= 2)
      out += (out.empty() ? "" : ", ") + std::string(kClassNames[c]) + " " +
             std::to_string(classes_[c]);
  if (classes_[0]) out += ", no response " + std::to_string(classes_[0]);
  return out;
}

// The newest requests first, at most max: method, status, latency, bytes,
// path last so a narrow screen cuts only the path.
std::vector<std::string> ConsoleView::request_lines(size_t max) const {
  std::vector<std::string> out;
  for (auto it = requests_.rbegin(); it != requests_.rend() && out.size() < max; ++it) {
    char buf[96];
    std::string status = it->status ? std::to_string(it->status) : "---";
    snprintf(buf, sizeof buf, "%-7.7s %-4s %10s %10s  ", it->method.c_str(), status.c_str(),
             console_latency(it->latency_us).c_str(), human_bytes(it->bytes).c_str());
    out.push_back(buf + it->path);
  }
  return out;
}

std::vector<std::string> ConsoleView::render(size_t width, size_t height, int64_t now_ms) const {
  std::vector<std::string> lines = head_lines(now_ms);
  if (lines.size() > height) lines.resize(height);
  size_t rest = height - lines.size();
  // Each section is a blank line, a title and at least one row, or absent.
  // Requests take what the log lines leave, but never fewer than one row.
  size_t log_need = log_.empty() ? 0 : 2 + log_.size();
  size_t req_need = requests_.empty() ? 0 : 2 + requests_.size();
  size_t req_lines = std::min(req_need, std::max(rest > log_need ? rest - log_need : 0,
                                                 std::min<size_t>(rest, 3)));
  if (req_lines < 3) req_lines = 0;
  size_t log_lines = std::min(log_need, rest - req_lines);
  if (log_lines < 3) log_lines = 0;
  if (req_lines) {
    lines.push_back("");
    lines.push_back("HTTP Requests");
    for (std::string& l : request_lines(req_lines - 2)) lines.push_back(std::move(l));
  }
  if (log_lines) {
    lines.push_back("");
    lines.push_back("Log");
    for (size_t i = log_.size() - (log_lines - 2); i < log_.size(); ++i) lines.push_back(log_[i]);
  }
  if (!lines.empty() && width > lines[0].size() + 18)  // the hint, right-aligned
    lines[0] += std::string(width - lines[0].size() - 16, ' ') + "(Ctrl+C to quit)";
  for (std::string& l : lines) l = console_fit(l, width);
  return lines;
}

std::string ConsoleView::summary(int64_t now_ms) const {
  std::string out = "forward-client: session summary\n";
  out += "  " + row("uptime", uptime_text(now_ms - started_ms_)) + "\n";
  out += "  " + row("streams", std::to_string(metrics_.streams_total) + " (" +
                                   std::to_string(metrics_.streams) + " open at exit)") +
         "\n";
  out += "  " + row("bytes to targets", std::to_string(metrics_.bytes_to_targets) + " (" +
                                            human_bytes(metrics_.bytes_to_targets) + ")") +
         "\n";
  out += "  " + row("bytes from targets", std::to_string(metrics_.bytes_from_targets) + " (" +
                                              human_bytes(metrics_.bytes_from_targets) + ")") +
         "\n";
  std::string req = std::to_string(requests_total_);
  if (requests_total_) req += ": " + classes_text();
  out += "  " + row("requests", req) + "\n";
  std::string latency = "-";
  if (answered_)
    latency = "min " + console_latency(latency_min_us_) + ", avg " +
              console_latency(latency_sum_us_ / answered_) + ", max " +
              console_latency(latency_max_us_);
  out += "  " + row("latency", latency) + "\n";
  return out;
}
