// One entry of a tunnel's channel table: a TCP stream or a UDP session,
// kinds of one thing as in OpenSSH's channels[] (c->datagram marks the
// datagram kind). The Tunnel owns every Channel by id; frames for an id
// reach it here, and frames for an unknown or closed id are answered in
// one place, the Tunnel's lookup. Each channel leaves through its own
// single exit, which logs once and removes it from the table
// (Tunnel::forget_channel).
#pragma once

#include <cstdint>
#include <string>

#include "frame.h"
#include "reaper.h"

struct evbuffer;
class Tunnel;

class Channel : public Disposable {
 public:
  enum class Kind : uint8_t { stream, datagram };

  Channel(Tunnel& tunnel, uint32_t id, Kind kind) : tunnel_(tunnel), id_(id), kind_(kind) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  uint32_t id() const { return id_; }
  Kind kind() const { return kind_; }
  // Who opened it (the server's public port), compared, never used.
  void set_owner(const void* owner) { owner_ = owner; }
  const void* owner() const { return owner_; }

  // Frames for this id. false (with err) is a protocol violation that
  // closes the whole tunnel. A kind ignores the frames it has no use for,
  // as it would ignore frames that trail its close.
  virtual bool on_data(evbuffer* src, size_t n, std::string& err);
  virtual bool on_eof(std::string& err);
  virtual bool on_window(uint32_t increment, std::string& err);
  // connect_us: the target's connect time the client reported, 0 if none.
  virtual bool on_open_ok(uint32_t window, uint32_t connect_us, std::string& err);
  virtual bool on_open_fail(const frame::Failure& f, std::string& err) = 0;
  virtual void on_reset(const frame::Failure& f) = 0;
  virtual void on_datagram(const uint8_t* p, size_t n);

  // The tunnel is gone: end without a word to the peer.
  virtual void abort(const std::string& reason) = 0;
  // Give up: tell the peer (RESET) and end.
  virtual void reset(const std::string& reason) = 0;

 protected:
  Tunnel& tunnel_;
  const uint32_t id_;

 private:
  const Kind kind_;
  const void* owner_ = nullptr;
};
