#include "buffer_budget.h"

#include <algorithm>

void BufferBudget::set_cap(uint64_t cap) {
  cap_ = cap;
  if (!over()) wake();
}

bool BufferBudget::reserve(size_t n) {
  if (used_ > cap_ || n > cap_ - used_) return false;
  used_ += n;
  return true;
}

void BufferBudget::remove(size_t n) {
  used_ -= std::min<uint64_t>(n, used_);
  if (!over() && !waiters_.empty()) wake();
}

void BufferBudget::wait(Waiter* w) {
  if (std::find(waiters_.begin(), waiters_.end(), w) == waiters_.end()) waiters_.push_back(w);
}

void BufferBudget::cancel(Waiter* w) {
  auto it = std::find(waiters_.begin(), waiters_.end(), w);
  if (it != waiters_.end()) waiters_.erase(it);
  if (waking_)  // a waiter we are about to call may be ending
    std::replace(waking_->begin(), waking_->end(), w, static_cast<Waiter*>(nullptr));
}

void BufferBudget::wake() {
  if (waking_) return;  // a waiter freed bytes: the loop below goes on anyway
  std::vector<Waiter*> now;
  now.swap(waiters_);
  waking_ = &now;
  for (size_t i = 0; i < now.size(); ++i) {
    Waiter* w = now[i];
    if (!w) continue;
    if (over()) {  // filled up again: the rest keep waiting
      for (size_t j = i; j < now.size(); ++j)
        if (now[j]) waiters_.push_back(now[j]);
      break;
    }
    now[i] = nullptr;
    w->budget_available();  // may wait() again, cancel() others, add bytes
  }
  waking_ = nullptr;
}
