#include "udp_port.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "address.h"
#include "log.h"
#include "tunnel.h"
#include "udp_session.h"

namespace {
constexpr int kBatch = 64;  // datagrams per wakeup, so one port cannot starve the loop
}

UdpPort::UdpPort(event_base* base, std::shared_ptr<const Mapping> mapping, UdpLimits limits,
                 PickTunnel pick)
    : base_(base), mapping_(std::move(mapping)), limits_(limits), pick_(std::move(pick)) {}

UdpPort::~UdpPort() {
  end_sessions([](const UdpSession&) { return true; }, "mapping removed");
  read_event_.reset();  // before fd_ closes
}

template <class Pred>
void UdpPort::end_sessions(Pred pick, const std::string& why) {
  // Each session leaves the index as it ends: pick from a snapshot.
  std::vector<UdpSession*> ending;
  for (const auto& kv : by_peer_)
    if (pick(*kv.second)) ending.push_back(kv.second);
  for (UdpSession* s : ending) s->reset(why);
}

bool UdpPort::bind(std::string& err) {
  sockaddr_storage ss;
  socklen_t len;
  const std::string host = mapping_->bind_host.empty() ? "0.0.0.0" : mapping_->bind_host;
  if (!ip_literal_to_sockaddr(host, mapping_->public_port, ss, len)) {
    err = "bad address '" + host + "'";
    return false;
  }
  fd_.reset(socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) {
    err = strerror(errno);
    return false;
  }
  int one = 1;
  if (ss.ss_family == AF_INET6)
    setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  int buf = 4 << 20;  // bursts of DNS or game traffic should not overflow the socket
  setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    err = strerror(errno);
    fd_.reset();
    return false;
  }
  local_ = ss;
  read_event_.reset(event_new(base_, fd_.get(), EV_READ | EV_PERSIST, readable_cb, this));
  event_add(read_event_.get(), nullptr);
  sweep_timer_.reset(event_new(base_, -1, EV_PERSIST, sweep_cb, this));
  timeval tv{1, 0};
  event_add(sweep_timer_.get(), &tv);
  return true;
}

void UdpPort::set_mapping(std::shared_ptr<const Mapping> m, UdpLimits limits) {
  mapping_ = std::move(m);
  limits_ = limits;
}

std::string UdpPort::counters() const {
  return "dropped: " + std::to_string(dropped_oversize_) + " oversize, " +
         std::to_string(dropped_congested_) + " channel busy, " + std::to_string(dropped_denied_) +
         " denied, " + std::to_string(dropped_no_client_) + " no client, " +
         std::to_string(dropped_limit_) + " over UDP_MAX_SESSIONS, " +
         std::to_string(dropped_disabled_) + " new peers while disabled";
}

std::map<std::string, uint64_t> UdpPort::drops() const {
  return {{"oversize", dropped_oversize_}, {"channel_busy", dropped_congested_},
          {"rules", dropped_denied_}, {"no_client", dropped_no_client_}, {"limit", dropped_limit_}};
}

void UdpPort::readable_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<UdpPort*>(arg)->on_readable();
}

void UdpPort::on_readable() {
  static uint8_t buf[65536];
  for (int i = 0; i < kBatch; ++i) {
    sockaddr_storage peer;
    socklen_t len = sizeof peer;
    // MSG_TRUNC makes recvfrom report the datagram's real size.
    ssize_t n = recvfrom(fd_.get(), buf, sizeof buf, MSG_TRUNC, reinterpret_cast<sockaddr*>(&peer),
                         &len);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        log_warn("mapping %s: recvfrom", mapping_->public_name().c_str());
      return;
    }
    if (n > limits_.max_datagram || n > static_cast<ssize_t>(sizeof buf)) {
      ++dropped_oversize_;
      continue;
    }
    if (!mapping_->access.permits(reinterpret_cast<sockaddr*>(&peer))) {
      if (dropped_denied_++ == 0)
        log_notice("mapping %s: datagram from %s denied by [RULES] (further ones counted)",
                   mapping_->public_name().c_str(),
                   format_sockaddr(reinterpret_cast<sockaddr*>(&peer)).c_str());
      continue;
    }
    std::string key(reinterpret_cast<char*>(&peer), len);
    auto it = by_peer_.find(key);
    if (it == by_peer_.end() && !accepting_) {
      ++dropped_disabled_;
      continue;
    }
    UdpSession* s = it != by_peer_.end()
                        ? it->second
                        : open_session(reinterpret_cast<sockaddr*>(&peer), len, key);
    if (!s) continue;
    if (s->from_peer(buf, static_cast<size_t>(n)))
      bytes_in_ += static_cast<uint64_t>(n);
    else
      ++dropped_congested_;
  }
}

UdpSession* UdpPort::open_session(const sockaddr* peer, socklen_t len, const std::string& key) {
  const Mapping& m = *mapping_;
  if (by_peer_.size() >= static_cast<size_t>(limits_.max_sessions)) {
    if (dropped_limit_++ % 1000 == 0)
      log_notice("mapping %s: UDP_MAX_SESSIONS (%d) reached, dropping datagrams from new peer %s",
                 m.public_name().c_str(), limits_.max_sessions, format_sockaddr(peer).c_str());
    return nullptr;
  }
  Tunnel* t = pick_(m.tag);
  if (!t) {
    if (dropped_no_client_++ % 1000 == 0)
      log_notice("mapping %s -> %s: no client of tag %s connected, dropping datagrams from %s",
                 m.public_name().c_str(), m.target_name().c_str(), m.tag.c_str(),
                 format_sockaddr(peer).c_str());
    return nullptr;
  }
  frame::ProxyBlock proxy;
  if (m.proxy_protocol != proxy::Version::off) {
    // Never forward without the header: the target expects it.
    if (!t->peer_proxy()) {
      if (refused_no_proxy_++ % 1000 == 0) {
        std::string client =
            t->client_name().empty() ? t->peer() : "'" + t->client_name() + "' at " + t->peer();
        log_warnx("mapping %s -> %s: PROXY_PROTOCOL %s, but client %s did not announce PROXY "
                  "protocol support (an older forward-client): dropping datagrams from %s "
                  "(%llu dropped so far, one line per 1000)",
                  m.public_name().c_str(), m.target_name().c_str(),
                  proxy::version_name(m.proxy_protocol), client.c_str(),
                  format_sockaddr(peer).c_str(), static_cast<unsigned long long>(refused_no_proxy_));
      }
      return nullptr;
    }
    proxy.version = m.proxy_protocol;
    proxy.ends = proxy::endpoints_from(peer, reinterpret_cast<const sockaddr*>(&local_));
  }
  uint32_t id = t->allocate_id();
  if (proxy.version != proxy::Version::off) proxy.unique_id = t->unique_stream_id(id);
  auto* s = static_cast<UdpSession*>(
      t->add_channel(std::make_unique<UdpSession>(*t, id, *this, peer, len)));
  by_peer_[key] = s;
  ++sessions_opened_;
  s->start(proxy);
  return s;
}

bool UdpPort::send_to_peer(const UdpSession& s, const uint8_t* p, size_t n) {
  if (sendto(fd_.get(), p, n, 0, s.peer(), s.peer_len()) < 0) return false;
  bytes_out_ += n;
  return true;
}

void UdpPort::forget(const UdpSession& s) {
  auto it = by_peer_.find(s.key());
  if (it != by_peer_.end() && it->second == &s) by_peer_.erase(it);
}

void UdpPort::sweep_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<UdpPort*>(arg)->sweep();
}

void UdpPort::sweep() {
  int64_t now = loop_time_ms(base_);
  int64_t idle = limits_.timeout_sec * 1000LL;
  end_sessions([&](const UdpSession& s) { return now - s.last_ms() >= idle; },
               "idle for UDP_TIMEOUT");
}
