// What /metrics shows: forward-server's and forward-client's figures as
// Prometheus text (metrics_text.h), from plain structs the daemons fill
// (ServerView, ClientMetrics) and ProcessStats. Pure, unit-tested; the
// HTTP side is metrics_http.*.
//
// Names follow Prometheus conventions: prefix tcpforward_, base units,
// _total for counters. No label holds a public peer's address; mappings
// are named by their public address, clients by [CLIENTS] name and
// session.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "metrics_text.h"
#include "process_stats.h"
#include "server_view.h"

std::string render_server_metrics(const ServerView& v, const ProcessStats& p);

struct ClientMetrics {
  std::string version;
  int64_t started = 0;        // seconds since the epoch
  uint64_t channel_up = 0;    // channels up now (one per server at most)
  uint64_t channels_up = 0;   // times a channel came up
  uint64_t reconnects = 0;    // attempts after the first
  int64_t rtt_ms = -1;        // the channel's last PING round trip
  size_t streams = 0;         // live
  uint64_t streams_total = 0;
  uint64_t bytes_to_targets = 0, bytes_from_targets = 0;
  std::map<std::string, uint64_t> target_failures;  // by reason (traffic_counters.h)
  metrics::Histogram connect_seconds{metrics::latency_buckets()};
};

std::string render_client_metrics(const ClientMetrics& c, const ProcessStats& p);
