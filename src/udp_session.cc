#include "udp_session.h"

#include <cstring>

#include "address.h"
#include "log.h"
#include "tunnel.h"
#include "udp_port.h"

UdpSession::UdpSession(Tunnel& tunnel, uint32_t id, UdpPort& port, const sockaddr* peer,
                       socklen_t len)
    : Channel(tunnel, id, Kind::datagram),
      port_(port),
      peer_len_(len),
      key_(reinterpret_cast<const char*>(peer), len),
      peer_text_(format_sockaddr(peer)) {
  memcpy(&peer_, peer, len);
  started_ms_ = last_ms_ = loop_time_ms(tunnel.base());
}

void UdpSession::start(const frame::ProxyBlock& proxy) {
  const Mapping& m = port_.mapping();
  frame::UdpOpen open;
  open.host = m.target_host;
  open.port = m.target_port;
  open.proxy = proxy;
  std::string payload;
  frame::encode_udp_open(open, payload);
  tunnel_.send_control(frame::Type::udp_open, id_, payload);
  std::string pp;
  if (proxy.version != proxy::Version::off)
    pp = std::string(", PROXY ") + proxy::version_name(proxy.version) + " id " + proxy.unique_id;
  log_info("udp session %u started: mapping %s -> %s, peer %s, client %s%s", id_,
           m.public_name().c_str(), m.target_name().c_str(), peer_text_.c_str(),
           tunnel_.peer().c_str(), pp.c_str());
}

bool UdpSession::from_peer(const uint8_t* p, size_t n) {
  last_ms_ = loop_time_ms(tunnel_.base());
  if (!tunnel_.send_datagram(id_, p, n)) {
    ++dropped_;
    return false;
  }
  ++dgrams_in_;
  bytes_in_ += n;
  return true;
}

void UdpSession::on_datagram(const uint8_t* p, size_t n) {
  last_ms_ = loop_time_ms(tunnel_.base());
  if (!port_.send_to_peer(*this, p, n)) {
    ++dropped_;
    return;
  }
  ++dgrams_out_;
  bytes_out_ += n;
}

bool UdpSession::on_open_fail(const frame::Failure& f, std::string&) {
  end(std::string("client ended it: ") + frame::reason_name(f.reason), false);
  return true;
}

void UdpSession::on_reset(const frame::Failure& f) {
  end("client ended it: " + printable(f.text), false);
}

void UdpSession::end(const std::string& why, bool tell_client) {
  if (ended_) return;
  ended_ = true;
  if (tell_client && !tunnel_.closed())
    tunnel_.send_failure(frame::Type::reset, id_, frame::Reason::other, why);
  const Mapping& m = port_.mapping();
  log_info("udp session %u ended: mapping %s -> %s, peer %s, %llu datagrams/%llu bytes in, "
           "%llu datagrams/%llu bytes out, %llu dropped, %.3f s: %s",
           id_, m.public_name().c_str(), m.target_name().c_str(), peer_text_.c_str(),
           static_cast<unsigned long long>(dgrams_in_), static_cast<unsigned long long>(bytes_in_),
           static_cast<unsigned long long>(dgrams_out_), static_cast<unsigned long long>(bytes_out_),
           static_cast<unsigned long long>(dropped_),
           (loop_time_ms(tunnel_.base()) - started_ms_) / 1000.0, why.c_str());
  port_.forget(*this);
  tunnel_.forget_channel(id_);
}
