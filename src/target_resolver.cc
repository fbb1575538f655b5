#include "target_resolver.h"

#include <algorithm>
#include <cstring>
#include <netinet/in.h>

#include "address.h"

const char* const kResolvedNotAllowedText =
    "resolved to a loopback/link-local/unspecified address not allowed by --allow";

struct TargetResolution::Request {
  TargetResolution* owner;  // nullptr once cancelled: evdns still calls back
  evdns_getaddrinfo_request* handle = nullptr;
  const TargetPolicy* policy;
  std::string host;
  uint16_t port;
  Done done;
};

namespace {

void set_result(ResolvedTarget& r, const sockaddr* sa, socklen_t len) {
  len = std::min<socklen_t>(len, sizeof r.addr);
  memcpy(&r.addr, sa, len);
  r.len = len;
}

}  // namespace

void TargetResolution::start(evdns_base* dns, const TargetPolicy& policy, const std::string& host,
                             uint16_t port, int socktype, Done done) {
  cancel();
  ResolvedTarget r;
  if (ip_literal_to_sockaddr(host, port, r.addr, r.len)) {
    // Matched by address already (TargetPolicy::permits).
    done(r);
    return;
  }
  auto* req = new Request{this, nullptr, &policy, host, port, std::move(done)};
  request_ = req;
  evutil_addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_protocol = socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
  std::string service = std::to_string(port);
  // Returns nullptr when it has already called back (and req is gone).
  evdns_getaddrinfo_request* h =
      evdns_getaddrinfo(dns, host.c_str(), service.c_str(), &hints, resolved_cb, req);
  if (h && request_ == req) req->handle = h;
}

void TargetResolution::cancel() {
  if (!request_) return;
  request_->owner = nullptr;
  if (request_->handle) evdns_getaddrinfo_cancel(request_->handle);
  request_ = nullptr;
}

void TargetResolution::resolved_cb(int result, evutil_addrinfo* res, void* arg) noexcept {
  auto* req = static_cast<Request*>(arg);
  TargetResolution* owner = req->owner;
  if (!owner) {
    if (res) evutil_freeaddrinfo(res);
    delete req;
    return;
  }
  owner->request_ = nullptr;
  ResolvedTarget r;
  if (result != 0 || !res) {
    r.outcome = ResolvedTarget::Outcome::dns_error;
    r.dns_error = result ? result : EVUTIL_EAI_NONAME;
  } else {
    // The first address the policy permits, as connect_hostname would
    // take the first of all.
    const evutil_addrinfo* refused = nullptr;
    const evutil_addrinfo* chosen = nullptr;
    for (const evutil_addrinfo* ai = res; ai && !chosen; ai = ai->ai_next) {
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
      if (req->policy->permits_resolved(req->host, ai->ai_addr, req->port))
        chosen = ai;
      else if (!refused)
        refused = ai;
    }
    if (chosen) {
      set_result(r, chosen->ai_addr, static_cast<socklen_t>(chosen->ai_addrlen));
    } else if (refused) {
      r.outcome = ResolvedTarget::Outcome::not_allowed;
      set_result(r, refused->ai_addr, static_cast<socklen_t>(refused->ai_addrlen));
      r.kind = local_address_kind(refused->ai_addr);
    } else {
      r.outcome = ResolvedTarget::Outcome::dns_error;
      r.dns_error = EVUTIL_EAI_NODATA;
    }
  }
  if (res) evutil_freeaddrinfo(res);
  Done done = std::move(req->done);
  delete req;
  done(r);
}
