// Where an inner target named by the server leads: resolves host:port (IP
// literals at once, names with evdns) and picks the first address the
// client's --allow policy permits (TargetPolicy::permits_resolved). One
// place for TCP streams and UDP sessions, so both apply the same check to
// the address they actually connect.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <sys/socket.h>

#include "access.h"
#include "ev.h"

struct ResolvedTarget {
  enum class Outcome { ok, dns_error, not_allowed };
  Outcome outcome = Outcome::ok;
  int dns_error = 0;  // EVUTIL_EAI_* (dns_error)
  // ok: the address to connect; not_allowed: the first one refused.
  sockaddr_storage addr{};
  socklen_t len = 0;
  const char* kind = nullptr;  // not_allowed: "loopback", "link-local", "unspecified"
};

// One resolution. Destroying it (or cancel()) guarantees the callback
// never runs afterwards, even though evdns reports a cancelled request
// later: the request state outlives this object until evdns lets go.
class TargetResolution {
 public:
  using Done = std::function<void(const ResolvedTarget&)>;
  TargetResolution() = default;
  ~TargetResolution() { cancel(); }
  TargetResolution(const TargetResolution&) = delete;
  TargetResolution& operator=(const TargetResolution&) = delete;

  // socktype: SOCK_STREAM or SOCK_DGRAM. done may run before start returns
  // (IP literals, /etc/hosts, immediate failures).
  void start(evdns_base* dns, const TargetPolicy& policy, const std::string& host, uint16_t port,
             int socktype, Done done);
  void cancel();
  bool active() const { return request_ != nullptr; }

 private:
  struct Request;
  static void resolved_cb(int result, evutil_addrinfo* res, void* arg) noexcept;
  Request* request_ = nullptr;  // shared with evdns while in flight
};

// The refusal text sent in OPEN_FAIL not_allowed.
extern const char* const kResolvedNotAllowedText;
