#include "metrics_report.h"

#include <map>
#include <vector>

using metrics::Labels;
using metrics::TextWriter;

namespace {

void build_info(TextWriter& w, const std::string& version, int64_t started) {
  w.family("tcpforward_build_info", "gauge", "Always 1; the version as a label.");
  w.sample("tcpforward_build_info", Labels{{"version", version}}, uint64_t{1});
  w.family("tcpforward_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.");
  w.sample("tcpforward_start_time_seconds", static_cast<double>(started));
}

void process(TextWriter& w, const ProcessStats& p) {
  w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
  w.sample("process_cpu_seconds_total", p.cpu_seconds);
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", p.resident_bytes);
  w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  w.sample("process_virtual_memory_bytes", p.virtual_bytes);
  w.family("process_start_time_seconds", "gauge", "Start time of the process since the epoch, in seconds.");
  w.sample("process_start_time_seconds", p.start_time_seconds);
  if (p.open_fds >= 0) {
    w.family("process_open_fds", "gauge", "Number of open file descriptors.");
    w.sample("process_open_fds", static_cast<double>(p.open_fds));
  }
  if (p.max_fds >= 0) {
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    w.sample("process_max_fds", static_cast<double>(p.max_fds));
  }
}

// One row per public address: a port a reload removed may still drain
// while a later reload has added the same address again, and one series
// may not appear twice.
std::vector<MappingRow> merge_by_name(const std::vector<MappingRow>& rows) {
  std::vector<MappingRow> out;
  std::map<std::string, size_t> index;
  for (const MappingRow& r : rows) {
    auto it = index.find(r.name);
    if (it == index.end()) {
      index.emplace(r.name, out.size());
      out.push_back(r);
      continue;
    }
    MappingRow& m = out[it->second];
    m.live += r.live;
    m.connections += r.connections;
    m.bytes_in += r.bytes_in;
    m.bytes_out += r.bytes_out;
    for (const auto& kv : r.rejected) m.rejected[kv.first] += kv.second;
    for (const auto& kv : r.udp_dropped) m.udp_dropped[kv.first] += kv.second;
    m.connect_seconds.add(r.connect_seconds);
  }
  return out;
}

}  // namespace

std::string render_server_metrics(const ServerView& view, const ProcessStats& p) {
  ServerView v = view;
  v.mappings = merge_by_name(view.mappings);
  TextWriter w;
  build_info(w, v.version, v.started);

  w.family("tcpforward_clients_connected", "gauge", "Client channels up.");
  w.sample("tcpforward_clients_connected", static_cast<double>(v.channels));
  w.family("tcpforward_client_sessions_total", "counter",
           "Client channels by how their handshake ended: accepted, refused (admission: tags, "
           "channel caps) or failed (authentication, timeout, protocol).");
  w.sample("tcpforward_client_sessions_total", Labels{{"result", "accepted"}}, v.sessions_accepted);
  w.sample("tcpforward_client_sessions_total", Labels{{"result", "refused"}}, v.sessions_refused);
  w.sample("tcpforward_client_sessions_total", Labels{{"result", "failed"}}, v.sessions_failed);
  w.family("tcpforward_channel_rtt_seconds", "gauge",
           "Round trip of each channel's last PING/PONG, in seconds.");
  for (const ClientRow& c : v.clients)
    if (c.rtt_ms >= 0)
      w.sample("tcpforward_channel_rtt_seconds", Labels{{"client", c.name}, {"session", c.session}},
               static_cast<double>(c.rtt_ms) / 1000.0);

  w.family("tcpforward_mapping_streams_active", "gauge",
           "Live streams of a TCP mapping, or sessions of a UDP one.");
  for (const MappingRow& m : v.mappings)
    w.sample("tcpforward_mapping_streams_active", Labels{{"mapping", m.name}, {"proto", m.proto}},
             static_cast<double>(m.live));
  w.family("tcpforward_mapping_connections_total", "counter",
           "Public connections a TCP mapping accepted (past its rules and MAX_CONNECTIONS), or "
           "sessions a UDP mapping opened.");
  for (const MappingRow& m : v.mappings)
    w.sample("tcpforward_mapping_connections_total", Labels{{"mapping", m.name}, {"proto", m.proto}},
             m.connections);
  w.family("tcpforward_mapping_rejected_total", "counter",
           "Public connections refused or lost before they were open, by reason.");
  for (const MappingRow& m : v.mappings)
    for (const auto& r : m.rejected)
      w.sample("tcpforward_mapping_rejected_total", Labels{{"mapping", m.name}, {"reason", r.first}},
               r.second);
  w.family("tcpforward_mapping_bytes_total", "counter",
           "Bytes relayed for a mapping as they move (UDP: datagram payloads): in from public "
           "peers, out to them.");
  for (const MappingRow& m : v.mappings) {
    w.sample("tcpforward_mapping_bytes_total", Labels{{"mapping", m.name}, {"direction", "in"}}, m.bytes_in);
    w.sample("tcpforward_mapping_bytes_total", Labels{{"mapping", m.name}, {"direction", "out"}}, m.bytes_out);
  }
  w.family("tcpforward_target_connect_seconds", "histogram",
           "Time the client took to resolve and connect a TCP mapping's target, as it "
           "reported in OPEN_OK, in seconds.");
  for (const MappingRow& m : v.mappings)
    if (m.proto == "tcp")
      w.histogram("tcpforward_target_connect_seconds", Labels{{"mapping", m.name}}, m.connect_seconds);
  w.family("tcpforward_udp_sessions_active", "gauge", "UDP sessions (public peers) in all mappings.");
  w.sample("tcpforward_udp_sessions_active", static_cast<double>(v.udp_sessions));
  w.family("tcpforward_udp_datagrams_dropped_total", "counter",
           "Datagrams a UDP mapping dropped, by reason.");
  for (const MappingRow& m : v.mappings)
    for (const auto& d : m.udp_dropped)
      w.sample("tcpforward_udp_datagrams_dropped_total", Labels{{"mapping", m.name}, {"reason", d.first}},
               d.second);

  w.family("tcpforward_config_reloads_total", "counter", "Configuration reloads by result.");
  w.sample("tcpforward_config_reloads_total", Labels{{"result", "success"}}, v.reloads_ok);
  w.sample("tcpforward_config_reloads_total", Labels{{"result", "failure"}}, v.reloads_failed);
  w.family("tcpforward_config_last_reload_success_timestamp_seconds", "gauge",
           "When the configuration was last loaded successfully (start or reload).");
  w.sample("tcpforward_config_last_reload_success_timestamp_seconds",
           static_cast<double>(v.last_reload_success));
  process(w, p);
  return w.text();
}

std::string render_client_metrics(const ClientMetrics& c, const ProcessStats& p) {
  TextWriter w;
  build_info(w, c.version, c.started);
  w.family("tcpforward_client_channel_up", "gauge",
           "Channels up now, one per server (1 with one server while it is up).");
  w.sample("tcpforward_client_channel_up", c.channel_up);
  w.family("tcpforward_client_channels_total", "counter", "Times a channel to a server came up.");
  w.sample("tcpforward_client_channels_total", c.channels_up);
  w.family("tcpforward_client_reconnects_total", "counter",
           "Connection attempts to the servers after the first to each.");
  w.sample("tcpforward_client_reconnects_total", c.reconnects);
  if (c.rtt_ms >= 0) {
    w.family("tcpforward_channel_rtt_seconds", "gauge",
             "Round trip of the channel's last PING/PONG, in seconds.");
    w.sample("tcpforward_channel_rtt_seconds", static_cast<double>(c.rtt_ms) / 1000.0);
  }
  w.family("tcpforward_client_streams_active", "gauge", "Live streams to targets.");
  w.sample("tcpforward_client_streams_active", static_cast<double>(c.streams));
  w.family("tcpforward_client_streams_total", "counter", "Streams the server opened.");
  w.sample("tcpforward_client_streams_total", c.streams_total);
  w.family("tcpforward_client_bytes_total", "counter",
           "Bytes relayed as they move: to_target and from_target.");
  w.sample("tcpforward_client_bytes_total", Labels{{"direction", "to_target"}}, c.bytes_to_targets);
  w.sample("tcpforward_client_bytes_total", Labels{{"direction", "from_target"}}, c.bytes_from_targets);
  w.family("tcpforward_client_target_failures_total", "counter",
           "Streams whose target could not be connected, by reason.");
  for (const auto& f : c.target_failures)
    w.sample("tcpforward_client_target_failures_total", Labels{{"reason", f.first}}, f.second);
  w.family("tcpforward_target_connect_seconds", "histogram",
           "Time to resolve and connect a target, in seconds.");
  w.histogram("tcpforward_target_connect_seconds", Labels{}, c.connect_seconds);
  process(w, p);
  return w.text();
}
