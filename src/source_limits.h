// Per-source-address limits of one public port: MAX_CONNECTIONS_PER_SOURCE
// (simultaneous) and NEW_CONNECTIONS_PER_SOURCE = N/SECONDS (a sliding
// window of the last N admissions). Pure: the caller passes the time and
// the address text, so it is unit-tested alone.
//
// Memory is bounded: a source is forgotten once it has no live connection
// and its window has passed, and at most kMaxSources are tracked; past
// that a new source is admitted untracked (never refused for a table
// that is full, which an attacker could fill) and counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

struct SourceRules {
  int max_live = 0;      // MAX_CONNECTIONS_PER_SOURCE; 0: no limit
  int max_new = 0;       // NEW_CONNECTIONS_PER_SOURCE's N; 0: no limit
  int window_sec = 0;    // ... its SECONDS
  bool any() const { return max_live > 0 || max_new > 0; }
};

class SourceLimiter {
 public:
  static constexpr size_t kMaxSources = 65536;
  static constexpr int64_t kLogEveryMs = 60000;  // one log line per source per minute

  enum class Verdict { admit, too_many_live, too_many_new };
  struct Decision {
    Verdict verdict = Verdict::admit;
    // For a refusal: log it now (first of the minute for this source) and
    // how many were refused quietly since the last line.
    bool log = false;
    uint64_t quiet = 0;
    // For an admission: hold it while the connection lives (the live count).
    std::shared_ptr<void> lease;
  };

  Decision admit(const std::string& source, const SourceRules& rules, int64_t now_ms);
  size_t tracked() const { return state_->sources.size(); }
  uint64_t refused() const { return refused_; }

 private:
  struct Source {
    size_t live = 0;
    std::deque<int64_t> admitted;  // times of the last max_new admissions
    int64_t last_log_ms = -1;
    uint64_t quiet = 0;
  };
  struct State {
    std::unordered_map<std::string, Source> sources;
  };
  void prune(int64_t now_ms, const SourceRules& rules);
  // Shared with the leases, which may outlive the port (draining streams).
  std::shared_ptr<State> state_ = std::make_shared<State>();
  uint64_t refused_ = 0;
  int64_t last_prune_ms_ = 0;
};
