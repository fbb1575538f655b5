// One direction of a stream, tracked the way OpenSSH's nchan.c tracks
// each half of a channel: open, then draining (end of file seen; what is
// still held goes out first), then closed. A Stream has two:
//   input  (local socket -> channel): draining after the local EOF, closed
//          once EOF has been sent;
//   output (channel -> local socket): draining after the peer's EOF,
//          closed once the output is flushed and shutdown(SHUT_WR) done.
// States only move forward, and only through set(), which logs the step
// at debug level. Pure apart from that log line.
#pragma once

#include <cstdint>

class Half {
 public:
  enum class State : uint8_t { open, draining, closed };

  explicit Half(const char* name) : name_(name) {}
  State state() const { return state_; }
  bool open() const { return state_ == State::open; }
  bool closed() const { return state_ == State::closed; }
  // Moves to `to` if that is forward; false (and no change) otherwise.
  bool set(State to, uint32_t stream);
  static const char* name(State s);

 private:
  const char* name_;
  State state_ = State::open;
};
