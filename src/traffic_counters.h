// Counters a mapping keeps for metrics and forward-ctl mappings: its
// PublicPort owns them (so they last across reloads that keep the port),
// and each of its streams holds a reference and adds its bytes as they
// move, not when the stream ends. The client keeps one for all its streams.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "metrics_text.h"

struct TrafficCounters {
  uint64_t connections = 0;  // streams opened (public connections accepted)
  uint64_t from_local = 0;   // bytes read from the local socket (public peer / target)
  uint64_t to_local = 0;     // bytes written towards it
  // Connections refused or lost before they were open, by reason:
  // "rules", "limit", "no_client", "target_refused", "target_unreachable",
  // "dns", "timeout", "not_allowed", "other".
  std::map<std::string, uint64_t> rejected;

  // Server: the targets' connect times the client reported in OPEN_OK.
  metrics::Histogram connect_seconds{metrics::latency_buckets()};

  void reject(const char* reason) { ++rejected[reason]; }
};

// An OPEN_FAIL reason code (frame::Reason) as a rejected reason.
const char* rejected_reason(uint8_t frame_reason);
