#include "signals.h"

#include <csignal>

void SignalSet::on(int signo, std::function<void()> fn) {
  auto e = std::make_unique<Entry>();
  e->fn = std::move(fn);
  e->ev.reset(evsignal_new(base_, signo, cb, e.get()));
  event_add(e->ev.get(), nullptr);
  entries_.push_back(std::move(e));
}

void SignalSet::cb(evutil_socket_t, short, void* arg) noexcept { static_cast<Entry*>(arg)->fn(); }

void ignore_sigpipe() { signal(SIGPIPE, SIG_IGN); }
