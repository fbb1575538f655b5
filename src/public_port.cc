#include "public_port.h"

#include "address.h"
#include "log.h"
#include "net.h"
#include "stream.h"
#include "tunnel.h"

namespace {

// The public peer and the address it connected to; unknown if the socket
// cannot say (the peer already reset it).
proxy::Endpoints socket_endpoints(evutil_socket_t fd) {
  sockaddr_storage peer{}, local{};
  socklen_t pl = sizeof peer, ll = sizeof local;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0)
    return proxy::Endpoints{};
  return proxy::endpoints_from(reinterpret_cast<sockaddr*>(&peer),
                               reinterpret_cast<sockaddr*>(&local));
}

}  // namespace

PublicPort::PublicPort(event_base* base, const Mapping& m, const ServerConfig& config,
                       PortHost& host)
    : base_(base), config_(config), host_(host), mapping_(std::make_shared<const Mapping>(m)) {
  if (m.rate_limit) rate_ = std::make_shared<RateLimiter>(m.rate_limit);
}

void PublicPort::set_mapping(const Mapping& m) {
  if (m.rate_limit != mapping_->rate_limit)
    rate_ = m.rate_limit ? std::make_shared<RateLimiter>(m.rate_limit) : nullptr;
  mapping_ = std::make_shared<const Mapping>(m);
}

PublicPort::~PublicPort() {
  usage_->on_idle = nullptr;  // leases that outlive the port must not wake it
}

bool PublicPort::bind(const UdpLimits& limits, std::string& err) {
  const Mapping& m = *mapping_;
  bool ok;
  if (m.udp) {
    udp_ = std::make_unique<UdpPort>(base_, mapping_, limits, [this](const std::string& tag) {
      return host_.pick_tunnel(tag);
    });
    ok = udp_->bind(err);
  } else {
    listener_ = std::make_unique<Listener>(
        base_, "mapping " + m.public_name(),
        [this](evutil_socket_t fd, const sockaddr* sa) { accept(UniqueFd(fd), sa); });
    ok = listener_->bind(m.bind_host, m.public_port, err);
  }
  if (!ok)
    err = "cannot listen on " + m.public_name() + " (" +
          (m.exposed_by.empty() ? m.file + ":" + std::to_string(m.line) : m.exposed_by) + "): " + err;
  return ok;
}

bool PublicPort::disable(std::string& err) {
  if (disabled_) {
    err = "mapping " + mapping_->public_name() + " is disabled already";
    return false;
  }
  // A UDP socket carries its live sessions too: it stays open and only
  // stops taking new peers.
  if (udp_)
    udp_->set_accepting(false);
  else
    listener_.reset();  // closes the listening socket; streams keep their leases
  disabled_ = true;
  return true;
}

bool PublicPort::enable(std::string& err) {
  if (!disabled_) {
    err = "mapping " + mapping_->public_name() + " is not disabled";
    return false;
  }
  if (udp_)
    udp_->set_accepting(true);
  else if (!bind(UdpLimits{}, err))
    return false;
  disabled_ = false;
  return true;
}

void PublicPort::refresh_udp(const UdpLimits& limits) {
  if (udp_) udp_->set_mapping(mapping_, limits);
}

// A counted reference for one stream or held connection.
std::shared_ptr<void> PublicPort::lease() {
  ++usage_->live;
  return std::shared_ptr<void>(nullptr, [usage = usage_](void*) {
    if (--usage->live == 0 && usage->on_idle) event_active(usage->on_idle, EV_TIMEOUT, 1);
  });
}

void PublicPort::accept(UniqueFd fd, const sockaddr* peer) {
  std::shared_ptr<const Mapping> m = mapping_;
  std::string peer_text = format_sockaddr(peer);
  if (!m->access.permits(peer)) {
    log_notice("mapping %s -> %s: connection from %s denied by [RULES]", m->public_name().c_str(),
               m->target_name().c_str(), peer_text.c_str());
    counters_->reject("rules");
    return;
  }
  if (m->max_connections && usage_->live >= static_cast<size_t>(m->max_connections)) {
    log_notice("mapping %s -> %s: MAX_CONNECTIONS (%d) reached, closing connection from %s",
               m->public_name().c_str(), m->target_name().c_str(), m->max_connections,
               peer_text.c_str());
    counters_->reject("limit");
    return;
  }
  std::shared_ptr<void> source_lease;
  if (!admit_source(*m, peer, peer_text, source_lease)) return;
  std::shared_ptr<void> l = lease();
  // Leases hold no pointer, only a deleter: test the control block.
  if (source_lease.use_count())  // one lease that lets go of both
    l = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
        std::move(l), std::move(source_lease));
  Tunnel* t = host_.pick_tunnel(m->tag);
  if (t) {
    open_stream(*t, m, std::move(fd), peer_text, std::move(l));
    return;
  }
  if (host_.may_hold()) {
    hold(m, std::move(fd), peer_text, std::move(l));
    return;
  }
  log_notice("mapping %s -> %s: no client of tag %s connected, closing connection from %s",
             m->public_name().c_str(), m->target_name().c_str(), m->tag.c_str(),
             peer_text.c_str());
  counters_->reject("no_client");
}

bool PublicPort::admit_source(const Mapping& m, const sockaddr* peer, const std::string& peer_text,
                              std::shared_ptr<void>& source_lease) {
  SourceRules rules{m.max_connections_per_source, m.new_connections_per_source,
                    m.new_connections_window_sec};
  if (!rules.any()) return true;
  std::string source = format_address(peer);
  SourceLimiter::Decision d = sources_.admit(source, rules, loop_time_ms(base_));
  if (d.verdict == SourceLimiter::Verdict::admit) {
    source_lease = std::move(d.lease);
    return true;
  }
  if (d.log) {
    std::string rule = d.verdict == SourceLimiter::Verdict::too_many_live
                           ? "MAX_CONNECTIONS_PER_SOURCE (" + std::to_string(rules.max_live) + ")"
                           : "NEW_CONNECTIONS_PER_SOURCE (" + std::to_string(rules.max_new) + "/" +
                                 std::to_string(rules.window_sec) + ")";
    std::string quiet = d.quiet ? ", " + std::to_string(d.quiet) +
                                      " more refused since the last line" : "";
    log_notice("mapping %s -> %s: %s reached, closing connection from %s%s (one line per "
               "source a minute)",
               m.public_name().c_str(), m.target_name().c_str(), rule.c_str(), peer_text.c_str(),
               quiet.c_str());
  }
  counters_->reject("limit");
  return false;
}

void PublicPort::open_stream(Tunnel& t, const std::shared_ptr<const Mapping>& m, UniqueFd fd,
                             const std::string& peer, std::shared_ptr<void> lease) {
  if (t.stream_count() >= static_cast<size_t>(config_.max_streams_per_client)) {
    log_warnx("mapping %s -> %s: client %s already has MAX_STREAMS_PER_CLIENT (%d) streams, "
              "closing connection from %s",
              m->public_name().c_str(), m->target_name().c_str(), t.peer().c_str(),
              config_.max_streams_per_client, peer.c_str());
    counters_->reject("limit");
    return;
  }
  frame::ProxyBlock proxy;
  if (m->proxy_protocol != proxy::Version::off) {
    // Never forward without the header: the target expects it.
    if (!t.peer_proxy()) {
      std::string client = t.client_name().empty() ? t.peer() : "'" + t.client_name() + "' at " + t.peer();
      log_warnx("mapping %s -> %s: PROXY_PROTOCOL %s, but client %s did not announce PROXY "
                "protocol support (an older forward-client): closing connection from %s",
                m->public_name().c_str(), m->target_name().c_str(),
                proxy::version_name(m->proxy_protocol), client.c_str(), peer.c_str());
      counters_->reject("no_proxy_support");
      return;
    }
    proxy.version = m->proxy_protocol;
    proxy.ends = socket_endpoints(fd.get());
  }
#ifndef __linux__
  set_nodelay(fd.get());  // Linux: inherited from the listener (listener.h)
#endif
  BufferEventPtr bev(bufferevent_socket_new(base_, fd.get(), BEV_OPT_CLOSE_ON_FREE));
  if (!bev) {
    log_warnx("mapping %s: out of memory, closing connection from %s", m->public_name().c_str(),
              peer.c_str());
    return;
  }
  fd.release();  // the bufferevent closes it
  uint32_t id = t.allocate_id();
  name_streams_of(m);
  std::string label;
  label.reserve(label_head_.size() + peer.size() + t.peer().size() + 16);
  label.append(label_head_).append(", peer ").append(peer).append(", client ").append(t.peer());
  if (proxy.version != proxy::Version::off) {
    proxy.unique_id = t.unique_stream_id(id);
    label += std::string(", PROXY ") + proxy::version_name(proxy.version) + " id " + proxy.unique_id;
  }
  Stream* s = t.add_channel(std::make_unique<Stream>(t, id, std::move(bev), label));
  s->set_lease(std::move(lease));
  s->set_owner(usage_.get());
  s->set_origin(public_name_, peer);
  if (m->http) s->observe_http();
  RateLimits limits;
  if (rate_) limits.limiters.push_back(rate_);
  if (RateLimiterPtr c = host_.client_rate_limit(t)) limits.limiters.push_back(std::move(c));
  if (!limits.empty()) s->set_rate_limits(std::move(limits));
  s->set_counters(counters_);
  ++counters_->connections;
  s->request_open(m->target_host, m->target_port, proxy);
}

void PublicPort::name_streams_of(const std::shared_ptr<const Mapping>& m) {
  if (named_ == m) return;
  named_ = m;  // held, so its address cannot come back as another mapping's
  public_name_ = m->public_name();
  label_head_ = "mapping " + public_name_ + " -> " + m->target_name();
}

void PublicPort::hold(const std::shared_ptr<const Mapping>& m, UniqueFd fd,
                      const std::string& peer, std::shared_ptr<void> lease) {
  uint64_t id = host_.next_held_id();
  Held& h = held_[id];
  h.fd = std::move(fd);
  h.mapping = m;
  h.lease = std::move(lease);
  h.peer = peer;
  h.port = this;
  h.id = id;
  h.timer.reset(evtimer_new(base_, held_timeout_cb, &h));  // map nodes do not move
  timeval tv{config_.client_wait_sec, 0};
  evtimer_add(h.timer.get(), &tv);
  log_info("mapping %s -> %s: no client of tag %s yet, holding connection from %s for up to %d s",
           m->public_name().c_str(), m->target_name().c_str(), m->tag.c_str(), peer.c_str(),
           config_.client_wait_sec);
}

void PublicPort::held_timeout_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* h = static_cast<Held*>(arg);
  h->port->held_timeout(h->id);
}

void PublicPort::held_timeout(uint64_t id) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  const Held& h = it->second;
  log_notice("mapping %s -> %s: no client of tag %s within CLIENT_WAIT (%d s), closing "
             "connection from %s",
             h.mapping->public_name().c_str(), h.mapping->target_name().c_str(),
             h.mapping->tag.c_str(), config_.client_wait_sec, h.peer.c_str());
  counters_->reject("no_client");
  held_.erase(it);  // closes the socket, frees the entry and its (no longer pending) timer
}

void PublicPort::held_for(const std::string& tag,
                          std::vector<std::pair<uint64_t, PublicPort*>>& out) {
  for (const auto& kv : held_)
    if (kv.second.mapping->tag == tag) out.emplace_back(kv.first, this);
}

void PublicPort::release_held(uint64_t id, Tunnel& t) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  Held& h = it->second;
  h.timer.reset();
  open_stream(t, h.mapping, std::move(h.fd), h.peer, std::move(h.lease));
  held_.erase(it);
}

bool PublicPort::drain(int drain_timeout_sec) {
  listener_.reset();
  udp_.reset();
  if (usage_->live == 0) return false;
  drain_timer_.reset(evtimer_new(base_, drain_cb, this));
  usage_->on_idle = drain_timer_.get();
  if (drain_timeout_sec) {
    timeval tv{drain_timeout_sec, 0};
    evtimer_add(drain_timer_.get(), &tv);
  }
  return true;
}

void PublicPort::drain_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<PublicPort*>(arg)->on_drain_event();
}

// Fires when DRAIN_TIMEOUT passes (leases still out) or when the last lease
// ends (none left). Held connections keep their CLIENT_WAIT even past
// DRAIN_TIMEOUT, so the port may wait for them after the reset.
void PublicPort::on_drain_event() {
  if (usage_->live) {
    size_t n = host_.abort_streams(usage_.get(), "mapping removed, DRAIN_TIMEOUT passed");
    if (n)
      log_notice("mapping %s: %zu streams still open after DRAIN_TIMEOUT, reset",
                 mapping_->public_name().c_str(), n);
  }
  if (usage_->live == 0) host_.port_drained(*this);
}
