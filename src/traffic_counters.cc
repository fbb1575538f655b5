#include "traffic_counters.h"

#include "frame.h"

const char* rejected_reason(uint8_t frame_reason) {
  switch (static_cast<frame::Reason>(frame_reason)) {
    case frame::Reason::refused: return "target_refused";
    case frame::Reason::unreachable: return "target_unreachable";
    case frame::Reason::timeout: return "timeout";
    case frame::Reason::dns: return "dns";
    case frame::Reason::not_allowed: return "not_allowed";
    case frame::Reason::resource_limit: return "limit";
    case frame::Reason::other: break;
  }
  return "other";
}
