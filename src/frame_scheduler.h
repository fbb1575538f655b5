// Which stream's DATA goes on the channel next: deficit round robin.
//
// The channel takes DATA only while its socket can (Tunnel::fill); each
// stream keeps its pending bytes itself (its local socket's input) and is
// here only while it could send a frame now (bytes, credit, rate). Every
// turn a stream gets one quantum (about one frame) of allowance: N busy
// streams share the channel evenly, whatever their backlogs, and a stream
// that joins goes out once the streams ahead of it have had their turn.
// Control frames and datagrams never wait here: the tunnel queues them at
// once (docs/PROTOCOL.md, "Data and flow control"). No I/O; unit-tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

class FrameScheduler {
 public:
  explicit FrameScheduler(size_t quantum) : quantum_(quantum ? quantum : 1) {}
  FrameScheduler(const FrameScheduler&) = delete;
  FrameScheduler& operator=(const FrameScheduler&) = delete;

  // The stream can send: it joins the back of the round (no-op if it is in).
  void add(uint32_t id);
  // It cannot send any more (no bytes, credit or rate) or it is gone:
  // it leaves the round and forgets its deficit. No-op if it is not in.
  void remove(uint32_t id);
  bool contains(uint32_t id) const { return index_.count(id) != 0; }
  bool empty() const { return round_.empty(); }
  size_t size() const { return round_.size(); }
  size_t quantum() const { return quantum_; }

  // The stream whose turn it is and how many bytes it may send now (its
  // deficit, at least one quantum at the start of its turn). false: none.
  bool next(uint32_t& id, size_t& allowance);
  // The stream at the front sent n bytes of what next() allowed; more: it
  // can still send. It keeps its turn while allowance is left, else goes
  // to the back; without more it leaves the round. No-op for an id that is
  // not at the front (it was removed meanwhile).
  void sent(uint32_t id, size_t n, bool more);

 private:
  struct Entry {
    std::list<uint32_t>::iterator pos;
    size_t deficit = 0;
    bool turn = false;  // its quantum for the current turn was granted
  };
  size_t quantum_;
  std::list<uint32_t> round_;  // front: whose turn it is
  std::unordered_map<uint32_t, Entry> index_;
};
