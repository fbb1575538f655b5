#include "reaper.h"

Reaper::Reaper(event_base* base) : event_(event_new(base, -1, 0, on_event, this)) {}

void Reaper::bury(std::unique_ptr<Disposable> obj) {
  if (!obj) return;
  if (graveyard_.empty()) event_active(event_.get(), EV_TIMEOUT, 0);
  graveyard_.push_back(std::move(obj));
}

void Reaper::reap() {
  // Destructors may bury more objects; loop until nothing is left.
  while (!graveyard_.empty()) {
    auto batch = std::move(graveyard_);
    graveyard_.clear();
    batch.clear();
  }
}

void Reaper::on_event(evutil_socket_t, short, void* arg) noexcept {
  static_cast<Reaper*>(arg)->reap();
}
