#include "source_limits.h"

SourceLimiter::Decision SourceLimiter::admit(const std::string& source, const SourceRules& rules,
                                             int64_t now_ms) {
  Decision d;
  if (!rules.any()) return d;
  auto& sources = state_->sources;
  auto it = sources.find(source);
  if (it == sources.end()) {
    if (sources.size() >= kMaxSources) prune(now_ms, rules);
    if (sources.size() >= kMaxSources) return d;  // untracked, see the header
    it = sources.emplace(source, Source{}).first;
  }
  Source& s = it->second;
  int64_t window_ms = static_cast<int64_t>(rules.window_sec) * 1000;
  while (!s.admitted.empty() && (rules.max_new <= 0 || now_ms - s.admitted.front() >= window_ms ||
                                 s.admitted.size() > static_cast<size_t>(rules.max_new)))
    s.admitted.pop_front();
  if (rules.max_live > 0 && s.live >= static_cast<size_t>(rules.max_live))
    d.verdict = Verdict::too_many_live;
  else if (rules.max_new > 0 && s.admitted.size() >= static_cast<size_t>(rules.max_new))
    d.verdict = Verdict::too_many_new;
  if (d.verdict != Verdict::admit) {
    ++refused_;
    if (s.last_log_ms < 0 || now_ms - s.last_log_ms >= kLogEveryMs) {
      d.log = true;
      d.quiet = s.quiet;
      s.quiet = 0;
      s.last_log_ms = now_ms;
    } else {
      ++s.quiet;
    }
    return d;
  }
  if (rules.max_new > 0) s.admitted.push_back(now_ms);
  ++s.live;
  // The lease finds its source again by name: the entry stays while it
  // has live connections (prune keeps those).
  d.lease = std::shared_ptr<void>(nullptr, [state = state_, source](void*) {
    auto found = state->sources.find(source);
    if (found != state->sources.end() && found->second.live) --found->second.live;
  });
  if (now_ms - last_prune_ms_ >= kLogEveryMs) prune(now_ms, rules);
  return d;
}

// Forgets sources with nothing live, no admission in the window and no
// refusal logged within the last minute (their quiet count would be lost).
void SourceLimiter::prune(int64_t now_ms, const SourceRules& rules) {
  last_prune_ms_ = now_ms;
  int64_t window_ms = static_cast<int64_t>(rules.window_sec) * 1000;
  for (auto it = state_->sources.begin(); it != state_->sources.end();) {
    const Source& s = it->second;
    bool recent = !s.admitted.empty() && now_ms - s.admitted.back() < window_ms;
    bool logging = s.last_log_ms >= 0 && now_ms - s.last_log_ms < kLogEveryMs;
    if (s.live == 0 && !recent && !logging)
      it = state_->sources.erase(it);
    else
      ++it;
  }
}
