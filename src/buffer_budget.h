// One cap on bytes that many streams hold, counted together, so peers
// that stop reading cannot pin memory in proportion to the stream count.
// Two ways to use it:
//  - soft (server, MAX_BUFFERED_BYTES): add() always counts; past the cap
//    streams that still hold bytes withhold WINDOW credit (the sender
//    stops) and wait() here until the total has room again. Each stream's
//    window bounds its part.
//  - hard (client, --max-pending-bytes): reserve() refuses what would pass
//    the cap, and the stream is reset instead.
// Pure bookkeeping: no I/O, no libevent.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

class BufferBudget {
 public:
  class Waiter {
   public:
    // The budget has room again: send the credit held back.
    virtual void budget_available() = 0;

   protected:
    ~Waiter() = default;
  };

  explicit BufferBudget(uint64_t cap) : cap_(cap) {}
  void set_cap(uint64_t cap);
  uint64_t cap() const { return cap_; }
  uint64_t used() const { return used_; }
  bool over() const { return used_ >= cap_; }
  // Whether a stream that still holds `held` bytes for its local socket
  // must withhold credit now: only past the cap, and only while it holds
  // something. A stream whose peer has taken everything it was sent gets
  // its credit even past the cap, so peers that stop reading cannot stall
  // the streams of those that read; each stream still holds at most its
  // window.
  bool withhold(size_t held) const { return over() && held > 0; }

  void add(size_t n) { used_ += n; }
  // Adds n only if the total stays within the cap; false adds nothing.
  bool reserve(size_t n);
  // Wakes the waiters once the total is below the cap again.
  void remove(size_t n);
  // A waiter is called at most once per wait(); cancel() before it goes away.
  void wait(Waiter* w);
  void cancel(Waiter* w);
  size_t waiting() const { return waiters_.size(); }

  // Window growth (window_tuner.h): credit granted beyond the streams'
  // initial windows, counted over every stream of every channel. At most
  // half the cap may be promised that way, so grown windows alone can
  // never let peers fill more than half of it.
  uint64_t growth() const { return growth_; }
  uint64_t growth_room() const { return cap_ / 2 > growth_ ? cap_ / 2 - growth_ : 0; }
  void add_growth(uint64_t n) { growth_ += n; }
  void remove_growth(uint64_t n) { growth_ -= std::min(n, growth_); }

 private:
  void wake();

  uint64_t cap_;
  uint64_t used_ = 0;
  uint64_t growth_ = 0;
  std::vector<Waiter*> waiters_;
  std::vector<Waiter*>* waking_ = nullptr;  // the batch wake() is calling
};
