#include "frame_scheduler.h"

void FrameScheduler::add(uint32_t id) {
  if (contains(id)) return;
  round_.push_back(id);
  Entry e;
  e.pos = std::prev(round_.end());
  index_.emplace(id, e);
}

void FrameScheduler::remove(uint32_t id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  round_.erase(it->second.pos);
  index_.erase(it);
}

bool FrameScheduler::next(uint32_t& id, size_t& allowance) {
  if (round_.empty()) return false;
  Entry& e = index_.at(round_.front());
  if (!e.turn) {
    e.deficit += quantum_;
    e.turn = true;
  }
  id = round_.front();
  allowance = e.deficit;
  return true;
}

void FrameScheduler::sent(uint32_t id, size_t n, bool more) {
  if (round_.empty() || round_.front() != id) return;
  if (!more) {
    remove(id);  // DRR: a flow that empties keeps no deficit
    return;
  }
  Entry& e = index_.at(id);
  e.deficit = n < e.deficit ? e.deficit - n : 0;
  // A turn that sent nothing would be granted again forever: end it too.
  if (e.deficit > 0 && n > 0) return;
  // What is left carries over, at most a quantum (DRR's leftover).
  if (e.deficit > quantum_) e.deficit = quantum_;
  e.turn = false;
  round_.splice(round_.end(), round_, round_.begin());
}
