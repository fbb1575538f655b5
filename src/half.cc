#include "half.h"

#include "log.h"

const char* Half::name(State s) {
  switch (s) {
    case State::open: return "open";
    case State::draining: return "draining";
    case State::closed: return "closed";
  }
  return "?";
}

bool Half::set(State to, uint32_t stream) {
  if (static_cast<uint8_t>(to) <= static_cast<uint8_t>(state_)) return false;
  log_debug("stream %u: %s %s -> %s", stream, name_, name(state_), name(to));
  state_ = to;
  return true;
}
