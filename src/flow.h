// Per-stream credit accounting (docs/PROTOCOL.md "Data and flow control").
// Pure arithmetic, no I/O, so the rules can be unit-tested on their own.
#pragma once

#include <cstddef>
#include <cstdint>

// What we may still send to the peer for one stream.
class SendCredit {
 public:
  explicit SendCredit(uint32_t initial = 0) : credit_(initial) {}
  size_t available() const { return credit_; }
  // Called after `n` bytes went out in DATA frames; n <= available().
  void consume(size_t n) { credit_ -= static_cast<uint32_t>(n); }
  // Applies a WINDOW increment; false if the total would exceed the protocol
  // maximum (a misbehaving peer).
  bool grant(uint32_t increment);

 private:
  uint32_t credit_;
};

// What the peer may still send us for one stream, and the credit we owe it.
// Credit is owed only for bytes that left our user-space buffer
// (on_delivered), never for bytes merely queued.
class RecvWindow {
 public:
  explicit RecvWindow(uint32_t window) : window_(window), peer_credit_(window) {}
  // Client side, before OPEN_OK: the peer may send only `early` bytes (the
  // early-data window, frame::kEarlyWindow) until we announce our window.
  void limit_to_early(uint32_t early);
  // We sent OPEN_OK(window()): the peer's credit becomes window() in total,
  // the early data already received included (docs/PROTOCOL.md).
  void announce();
  // Still limited to the early window (limit_to_early, no announce yet).
  bool early() const { return early_ != 0; }
  // Accounts an incoming DATA payload; false if it exceeds the credit we gave.
  bool on_data(size_t n);
  // n bytes were written to the local socket.
  void on_delivered(size_t n);
  // The increment to announce now, or 0. Small increments are batched until
  // a quarter window is owed, unless `flush` (the local socket's output ran
  // empty) asks for whatever is owed. At most `limit` is announced at once;
  // the rest stays owed.
  uint32_t take_update(bool flush, uint32_t limit = UINT32_MAX);
  // The window grows by n (window auto-tuning, window_tuner.h): the peer
  // is owed n more bytes of credit, announced with the next update.
  void grow(uint32_t n);
  size_t buffered() const { return buffered_; }
  uint32_t peer_credit() const { return peer_credit_; }
  uint32_t window() const { return window_; }
  uint32_t owed() const { return owed_; }

 private:
  uint32_t window_;
  uint32_t peer_credit_;
  uint32_t early_ = 0;   // the early window while limited to it, else 0
  size_t buffered_ = 0;  // received, not yet delivered
  uint32_t owed_ = 0;    // delivered, not yet announced
};
