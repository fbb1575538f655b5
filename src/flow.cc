#include "flow.h"

#include "frame.h"

bool SendCredit::grant(uint32_t increment) {
  if (increment == 0 || static_cast<uint64_t>(credit_) + increment > frame::kMaxWindow) return false;
  credit_ += increment;
  return true;
}

void RecvWindow::limit_to_early(uint32_t early) {
  if (early >= window_) return;  // a window that small needs no early limit
  early_ = early;
  peer_credit_ = early;
}

void RecvWindow::announce() {
  if (!early_) return;
  // peer_credit_ is early_ minus what came early, so this leaves
  // window_ minus the early data.
  peer_credit_ += window_ - early_;
  early_ = 0;
}

bool RecvWindow::on_data(size_t n) {
  if (n > peer_credit_) return false;
  peer_credit_ -= static_cast<uint32_t>(n);
  buffered_ += n;
  return true;
}

void RecvWindow::on_delivered(size_t n) {
  if (n > buffered_) n = buffered_;
  buffered_ -= n;
  owed_ += static_cast<uint32_t>(n);
}

uint32_t RecvWindow::take_update(bool flush, uint32_t limit) {
  if (owed_ == 0 || limit == 0) return 0;
  if (!flush && owed_ < window_ / 4 && owed_ < limit) return 0;
  uint32_t inc = owed_ < limit ? owed_ : limit;
  owed_ -= inc;
  peer_credit_ += inc;
  return inc;
}

void RecvWindow::grow(uint32_t n) {
  window_ += n;
  owed_ += n;
}
