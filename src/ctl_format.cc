#include "ctl_format.h"

#include <algorithm>
#include <cstdio>

using nlohmann::json;

std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size(), 0);
  auto measure = [&width](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  };
  measure(headers);
  for (const auto& r : rows) measure(r);
  auto line = [&width](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < r.size() ? r[i] : "";
      out += cell;
      if (i + 1 < width.size()) out += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string human_bytes(uint64_t n) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string human_duration(int64_t s) {
  if (s < 0) s = 0;
  char buf[32];
  if (s < 60)
    snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else if (s < 86400)
    snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
             static_cast<long long>(s / 60 % 60));
  else
    snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
             static_cast<long long>(s / 3600 % 24));
  return buf;
}

namespace {

std::string text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "-";
  return j.dump();
}

std::string status_text(const json& r) {
  std::string reload = "none yet";
  if (r["last_reload"].is_object()) {
    time_t t = r["last_reload"]["time"].get<int64_t>();
    char buf[64];
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    reload = std::string(buf) + (r["last_reload"]["ok"].get<bool>() ? ", applied" : ", refused");
  }
  std::vector<std::vector<std::string>> rows = {
      {"version:", text(r["version"])},
      {"config:", text(r["config"])},
      {"uptime:", human_duration(r["uptime_seconds"].get<int64_t>())},
      {"last reload:", reload},
      {"channels:", text(r["channels"]) + " up, " + text(r["handshakes"]) + " in the handshake"},
      {"mappings:", text(r["mappings"])},
      {"streams:", text(r["streams"]) + " (" + text(r["held"]) + " held for a client)"},
      {"udp sessions:", text(r["udp_sessions"])}};
  std::string out = format_table({"", ""}, rows);
  return out.substr(out.find('\n') + 1);  // no header line
}

std::string rtt_text(const json& v) {
  if (v.is_null()) return "-";
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f ms", v.get<double>() * 1000);
  return buf;
}

}  // namespace

std::string format_result(const std::string& command, const json& r) {
  std::vector<std::vector<std::string>> rows;
  if (command == "status") return status_text(r);
  if (command == "mappings") {
    for (const auto& m : r)
      rows.push_back({text(m["mapping"]), text(m["target"]), text(m["proto"]), text(m["tag"]),
                      text(m["state"]), text(m["live"]), text(m.value("connections", json())),
                      m.contains("bytes_in") ? human_bytes(m["bytes_in"].get<uint64_t>()) : "-",
                      m.contains("bytes_out") ? human_bytes(m["bytes_out"].get<uint64_t>()) : "-",
                      text(m["origin"])});
    return format_table({"MAPPING", "TARGET", "PROTO", "TAG", "STATE", "LIVE", "CONNS", "IN", "OUT",
                         "ORIGIN"},
                        rows);
  }
  if (command == "clients") {
    for (const auto& c : r)
      rows.push_back({c["name"].get<std::string>().empty() ? "-" : text(c["name"]), text(c["tag"]),
                      text(c["peer"]), text(c["session"]),
                      c["tls"].get<std::string>().empty() ? "plain" : text(c["tls"]),
                      human_duration(c["up_seconds"].get<int64_t>()), text(c["streams"]),
                      text(c["udp_sessions"]), human_bytes(c["bytes_in"].get<uint64_t>()),
                      human_bytes(c["bytes_out"].get<uint64_t>()), rtt_text(c["rtt_seconds"])});
    return format_table({"NAME", "TAG", "PEER", "SESSION", "TLS", "UP", "STREAMS", "UDP", "IN",
                         "OUT", "RTT"},
                        rows);
  }
  if (command == "streams") {
    for (const auto& s : r)
      rows.push_back({text(s["id"]), text(s["mapping"]), text(s["peer"]), text(s["client"]),
                      human_bytes(s["bytes_in"].get<uint64_t>()),
                      human_bytes(s["bytes_out"].get<uint64_t>()),
                      human_duration(static_cast<int64_t>(s["age_seconds"].get<double>()))});
    return format_table({"ID", "MAPPING", "PEER", "CLIENT", "IN", "OUT", "AGE"}, rows);
  }
  if (command == "kick") {
    size_t n = r["closed"].get<size_t>();
    return "closed " + std::to_string(n) + " channel" + (n == 1 ? "" : "s") + "\n";
  }
  if (command == "drain")
    return "draining: /ready answers 503; " + text(r["streams"]) +
           " streams go on and new connections are still served until the server stops\n";
  if (command == "disable" || command == "enable")
    return "mapping " + text(r["mapping"]) + ": " + text(r["state"]) + "\n";
  if (command == "log-level") return "log level " + text(r["level"]) + " until the next reload\n";
  if (command == "reload" || command == "add" || command == "remove") {
    std::string out;
    for (const auto& l : r["lines"]) out += text(l) + "\n";
    return out;
  }
  return r.dump(2) + "\n";
}
