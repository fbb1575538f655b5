#include "udp_port.h"

#include <cerrno>
#include <cstring>

#include "address.h"
#include "log.h"
#include "tunnel.h"

namespace {
constexpr int kBatch = 64;  // datagrams per wakeup, so one port cannot starve the loop
}

UdpPort::UdpPort(event_base* base, std::shared_ptr<const Mapping> mapping, UdpLimits limits,
                 PickTunnel pick)
    : base_(base), mapping_(std::move(mapping)), limits_(limits), pick_(std::move(pick)) {}

UdpPort::~UdpPort() {
  while (!by_peer_.empty()) end(by_peer_.begin(), "mapping removed", true);
  read_event_.reset();  // before fd_ closes
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
         std::to_string(dropped_limit_) + " over UDP_MAX_SESSIONS";
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
    Session* s = it != by_peer_.end() ? it->second.get()
                                      : open_session(reinterpret_cast<sockaddr*>(&peer), len, key);
    if (!s) continue;
    s->last_ms = loop_time_ms(base_);
    if (s->tunnel->send_datagram(s->id, buf, static_cast<size_t>(n))) {
      ++s->dgrams_in;
      s->bytes_in += static_cast<uint64_t>(n);
    } else {
      ++s->dropped;
      ++dropped_congested_;
    }
  }
}

UdpPort::Session* UdpPort::open_session(const sockaddr* peer, socklen_t len, const std::string& key) {
  const Mapping& m = *mapping_;
  std::string peer_text = format_sockaddr(peer);
  if (by_peer_.size() >= static_cast<size_t>(limits_.max_sessions)) {
    if (dropped_limit_++ % 1000 == 0)
      log_notice("mapping %s: UDP_MAX_SESSIONS (%d) reached, dropping datagrams from new peer %s",
                 m.public_name().c_str(), limits_.max_sessions, peer_text.c_str());
    return nullptr;
  }
  Tunnel* t = pick_(m.tag);
  if (!t) {
    if (dropped_no_client_++ % 1000 == 0)
      log_notice("mapping %s -> %s: no client of tag %s connected, dropping datagrams from %s",
                 m.public_name().c_str(), m.target_name().c_str(), m.tag.c_str(), peer_text.c_str());
    return nullptr;
  }
  auto s = std::make_unique<Session>();
  s->id = t->allocate_id();
  s->tunnel = t;
  memcpy(&s->peer, peer, len);
  s->peer_len = len;
  s->peer_text = peer_text;
  s->started_ms = s->last_ms = loop_time_ms(base_);
  frame::UdpOpen open;
  open.host = m.target_host;
  open.port = m.target_port;
  std::string payload;
  frame::encode_udp_open(open, payload);
  t->send_control(frame::Type::udp_open, s->id, payload);
  log_info("udp session %u started: mapping %s -> %s, peer %s, client %s", s->id,
           m.public_name().c_str(), m.target_name().c_str(), peer_text.c_str(), t->peer().c_str());
  Session* raw = s.get();
  by_id_[{t, s->id}] = raw;
  by_peer_[key] = std::move(s);
  return raw;
}

bool UdpPort::from_channel(Tunnel& t, uint32_t id, const uint8_t* p, size_t n) {
  auto it = by_id_.find({&t, id});
  if (it == by_id_.end()) return false;
  Session* s = it->second;
  s->last_ms = loop_time_ms(base_);
  ssize_t r = sendto(fd_.get(), p, n, 0, reinterpret_cast<sockaddr*>(&s->peer), s->peer_len);
  if (r < 0) {
    ++s->dropped;
  } else {
    ++s->dgrams_out;
    s->bytes_out += n;
  }
  return true;
}

bool UdpPort::closed_by_client(Tunnel& t, uint32_t id, const std::string& why) {
  auto it = by_id_.find({&t, id});
  if (it == by_id_.end()) return false;
  std::string key(reinterpret_cast<char*>(&it->second->peer), it->second->peer_len);
  end(by_peer_.find(key), "client ended it: " + why, false);
  return true;
}

void UdpPort::channel_lost(Tunnel& t) {
  for (auto it = by_peer_.begin(); it != by_peer_.end();) {
    auto next = std::next(it);
    if (it->second->tunnel == &t) end(it, "channel lost", false);
    it = next;
  }
}

void UdpPort::sweep_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<UdpPort*>(arg)->sweep();
}

void UdpPort::sweep() {
  int64_t now = loop_time_ms(base_);
  int64_t idle = limits_.timeout_sec * 1000LL;
  for (auto it = by_peer_.begin(); it != by_peer_.end();) {
    auto next = std::next(it);
    if (now - it->second->last_ms >= idle) end(it, "idle for UDP_TIMEOUT", true);
    it = next;
  }
}

void UdpPort::end(std::map<std::string, std::unique_ptr<Session>>::iterator it,
                  const std::string& why, bool tell_client) {
  if (it == by_peer_.end()) return;
  Session* s = it->second.get();
  if (tell_client && !s->tunnel->closed())
    s->tunnel->send_failure(frame::Type::reset, s->id, frame::Reason::other, why);
  log_info("udp session %u ended: mapping %s -> %s, peer %s, %llu datagrams/%llu bytes in, "
           "%llu datagrams/%llu bytes out, %llu dropped, %.3f s: %s",
           s->id, mapping_->public_name().c_str(), mapping_->target_name().c_str(),
           s->peer_text.c_str(), static_cast<unsigned long long>(s->dgrams_in),
           static_cast<unsigned long long>(s->bytes_in),
           static_cast<unsigned long long>(s->dgrams_out),
           static_cast<unsigned long long>(s->bytes_out),
           static_cast<unsigned long long>(s->dropped), (loop_time_ms(base_) - s->started_ms) / 1000.0,
           why.c_str());
  by_id_.erase({s->tunnel, s->id});
  by_peer_.erase(it);
}
