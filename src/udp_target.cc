#include "udp_target.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>

#include "address.h"
#include "frame.h"
#include "log.h"
#include "tunnel.h"

namespace {
constexpr size_t kMaxPending = 16;  // datagrams held while a name resolves
constexpr int kBatch = 64;
}  // namespace

UdpTarget::UdpTarget(event_base* base, evdns_base* dns, const TargetPolicy& policy,
                     Tunnel& tunnel, uint32_t id, const std::string& host, uint16_t port)
    : Channel(tunnel, id, Kind::datagram),
      base_(base),
      dns_(dns),
      policy_(policy),
      host_(host),
      port_(port) {}

UdpTarget::~UdpTarget() {
  resolution_.cancel();
  read_event_.reset();  // before fd_ closes
}

void UdpTarget::start() {
  resolution_.start(dns_, policy_, host_, port_, SOCK_DGRAM,
                    [this](const ResolvedTarget& r) { on_resolved(r); });
}

void UdpTarget::on_resolved(const ResolvedTarget& r) {
  switch (r.outcome) {
    case ResolvedTarget::Outcome::dns_error:
      fail(std::string("DNS: ") + evutil_gai_strerror(r.dns_error),
           static_cast<int>(frame::Reason::dns));
      return;
    case ResolvedTarget::Outcome::not_allowed:
      log_warnx("server %s asked for %s (udp, id %u): refused, %s resolved to %s (%s), not "
                "allowed by --allow (%s)",
                tunnel_.peer().c_str(), format_host_port(printable(host_), port_).c_str(), id_,
                printable(host_).c_str(),
                format_sockaddr(reinterpret_cast<const sockaddr*>(&r.addr)).c_str(),
                r.kind ? r.kind : "?", policy_.str().c_str());
      fail(kResolvedNotAllowedText, static_cast<int>(frame::Reason::not_allowed));
      return;
    case ResolvedTarget::Outcome::ok:
      connect_to(reinterpret_cast<const sockaddr*>(&r.addr), r.len);
      return;
  }
}

void UdpTarget::connect_to(const sockaddr* sa, socklen_t len) {
  fd_.reset(socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_ || connect(fd_.get(), sa, len) != 0) {
    int err = errno;
    fail(strerror(err), static_cast<int>(err == ENETUNREACH || err == EHOSTUNREACH
                                             ? frame::Reason::unreachable
                                             : frame::Reason::other));
    return;
  }
  read_event_.reset(event_new(base_, fd_.get(), EV_READ | EV_PERSIST, readable_cb, this));
  event_add(read_event_.get(), nullptr);
  log_info("udp session %u started: target %s via %s", id_, format_host_port(host_, port_).c_str(),
           format_sockaddr(sa).c_str());
  for (const std::string& d : pending_) send(reinterpret_cast<const uint8_t*>(d.data()), d.size());
  pending_.clear();
}

void UdpTarget::fail(const std::string& why, int reason) {
  tunnel_.send_failure(frame::Type::open_fail, id_, static_cast<frame::Reason>(reason), why);
  end("cannot reach target: " + why);
}

void UdpTarget::on_reset(const frame::Failure& f) { end("ended by the server: " + printable(f.text)); }

void UdpTarget::reset(const std::string& reason) {
  if (!ended_ && !tunnel_.closed())
    tunnel_.send_failure(frame::Type::reset, id_, frame::Reason::other, reason);
  end(reason);
}

void UdpTarget::send(const uint8_t* p, size_t n) {
  if (!fd_) {
    if (pending_.size() < kMaxPending)
      pending_.emplace_back(reinterpret_cast<const char*>(p), n);
    else
      ++dropped_;
    return;
  }
  // A refused earlier datagram (ICMP) shows up here as ECONNREFUSED; UDP
  // carries on regardless. With a PROXY header, header and datagram go
  // out as one datagram; one that would pass the UDP maximum is dropped.
  ssize_t sent;
  if (header_.empty()) {
    sent = ::send(fd_.get(), p, n, 0);
  } else if (header_.size() + n > frame::kMaxDatagram) {
    sent = -1;
  } else {
    iovec iov[2] = {{const_cast<char*>(header_.data()), header_.size()},
                    {const_cast<uint8_t*>(p), n}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    sent = ::sendmsg(fd_.get(), &msg, 0);
  }
  if (sent < 0) {
    ++dropped_;
    return;
  }
  ++dgrams_in_;
  bytes_in_ += n;
}

void UdpTarget::readable_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<UdpTarget*>(arg)->on_readable();
}

void UdpTarget::on_readable() {
  static uint8_t buf[65536];
  for (int i = 0; i < kBatch; ++i) {
    ssize_t n = recv(fd_.get(), buf, sizeof buf, MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      ++dropped_;  // ECONNREFUSED from an ICMP error and the like
      continue;
    }
    if (n > static_cast<ssize_t>(frame::kMaxDatagram) ||
        !tunnel_.send_datagram(id_, buf, static_cast<size_t>(n))) {
      ++dropped_;
      continue;
    }
    ++dgrams_out_;
    bytes_out_ += static_cast<uint64_t>(n);
  }
}

void UdpTarget::end(const std::string& why) {
  if (ended_) return;
  ended_ = true;
  resolution_.cancel();
  read_event_.reset();
  log_info("udp session %u ended: target %s, %llu datagrams/%llu bytes to target, "
           "%llu datagrams/%llu bytes back, %llu dropped: %s",
           id_, format_host_port(host_, port_).c_str(), static_cast<unsigned long long>(dgrams_in_),
           static_cast<unsigned long long>(bytes_in_), static_cast<unsigned long long>(dgrams_out_),
           static_cast<unsigned long long>(bytes_out_), static_cast<unsigned long long>(dropped_),
           why.c_str());
  tunnel_.forget_channel(id_);
}
