#include "server_link.h"

#include <algorithm>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/rand.h>

#include "address.h"
#include "log.h"
#include "net.h"

ServerLink::ServerLink(event_base* base, const ClientOptions& options, ServerAddress address,
                       const SessionId& session, Owner owner)
    : base_(base),
      options_(options),
      address_(std::move(address)),
      name_(format_host_port(address_.host, address_.port)),
      session_(session),
      owner_(std::move(owner)),
      retry_timer_(evtimer_new(base, retry_cb, this)) {}

ServerLink::~ServerLink() {
  connecting_.reset();
  if (tunnel_) tunnel_->close("client shutting down");
}

void ServerLink::stop() {
  stopped_ = true;
  evtimer_del(retry_timer_.get());
  connecting_.reset();
}

void ServerLink::close(const char* why) {
  stop();
  if (tunnel_) tunnel_->close(why);
}

void ServerLink::poke() {
  if (up()) {
    log_notice("status: channel up to %s, tag %s: %zu streams, %llu bytes in, %llu bytes out",
               tunnel_->peer().c_str(), options_.tag.c_str(), tunnel_->stream_count(),
               static_cast<unsigned long long>(tunnel_->bytes_in()),
               static_cast<unsigned long long>(tunnel_->bytes_out()));
    tunnel_->log_flow();  // debug level only
    return;
  }
  log_notice("status: channel to %s down (%d failed attempts)%s", name_.c_str(), failures_,
             connecting_ || tunnel_ ? ", connecting" : gave_up_ ? "" : ", retrying now");
  if (!connecting_ && !tunnel_ && !stopped_ && !gave_up_) {
    evtimer_del(retry_timer_.get());
    dial();
  }
}

std::string ServerLink::summary() const {
  if (up())
    return "channel up to " + name_ + ", tag " + options_.tag + ": " +
           std::to_string(tunnel_->stream_count()) + " streams, " +
           std::to_string(tunnel_->datagram_count()) + " UDP sessions";
  if (gave_up_) return "channel to " + name_ + " ended";
  return "connecting to " + name_ +
         (failures_ ? " (" + std::to_string(failures_) + " attempts failed)" : "");
}

BufferEventPtr ServerLink::new_connection() {
  BufferEventPtr bev;
  if (!options_.tls.enabled) {
    bev.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
    return bev;
  }
  std::string err;
  SslPtr ssl = new_client_ssl(options_.tls_ctx.get(), options_.tls, address_.host, err);
  if (!ssl) {
    log_warnx("server %s: %s", name_.c_str(), err.c_str());
    return bev;
  }
  // bufferevent_openssl takes the SSL even when it fails (CLOSE_ON_FREE).
  bev.reset(bufferevent_openssl_socket_new(base_, -1, ssl.release(), BUFFEREVENT_SSL_CONNECTING,
                                           BEV_OPT_CLOSE_ON_FREE));
  if (bev) bufferevent_openssl_set_allow_dirty_shutdown(bev.get(), 1);
  return bev;
}

void ServerLink::dial() {
  log_info("connecting to server %s", name_.c_str());
  ++attempts_;
  connecting_ = new_connection();
  if (!connecting_) {
    log_warnx("server %s: cannot create socket", name_.c_str());
    connection_lost();
    return;
  }
  bufferevent_setcb(connecting_.get(), nullptr, nullptr, connect_event_cb, this);
  timeval tv{options_.connect_timeout_sec, 0};
  bufferevent_set_timeouts(connecting_.get(), nullptr, &tv);
  // The name is resolved again on every attempt: the server may have moved.
  if (bufferevent_socket_connect_hostname(connecting_.get(), owner_.dns, AF_UNSPEC,
                                          address_.host.c_str(), address_.port) != 0) {
    log_warnx("server %s: cannot start connecting", name_.c_str());
    connecting_.reset();
    connection_lost();
  }
}

void ServerLink::connect_event_cb(bufferevent*, short what, void* arg) noexcept {
  static_cast<ServerLink*>(arg)->on_connect_event(what);
}

std::string ServerLink::connect_error(short what) {
  int dns_err = bufferevent_socket_get_dns_error(connecting_.get());
  int sock_err = EVUTIL_SOCKET_ERROR();
  std::string tls_err = options_.tls.enabled ? tls_error_text(connecting_.get()) : "";
  if (dns_err) return evutil_gai_strerror(dns_err);
  if (what & BEV_EVENT_TIMEOUT) return "connect timed out";
  if (!tls_err.empty()) return "TLS: " + tls_err;
  if (sock_err == 0 && options_.tls.enabled)
    return "TLS handshake failed: the server closed the connection (is it a TLS server? "
           "without TLS_CERT on the server, drop --tls)";
  return evutil_socket_error_to_string(sock_err);
}

void ServerLink::on_connect_event(short what) {
  if (!(what & BEV_EVENT_CONNECTED)) {
    std::string why = "cannot connect: " + connect_error(what);
    log_warnx("server %s: %s", name_.c_str(), why.c_str());
    connecting_.reset();
    if (owner_.failed) owner_.failed(*this, why);
    connection_lost();
    return;
  }
  evutil_socket_t fd = bufferevent_getfd(connecting_.get());
  set_nodelay(fd);
  set_keepalive(fd);
  bufferevent_set_timeouts(connecting_.get(), nullptr, nullptr);
  TunnelOptions o;
  o.auth = options_.auth;
  o.limits.handshake_timeout_sec = options_.connect_timeout_sec;
  o.limits.heartbeat_sec = options_.heartbeat_sec;
  o.session = session_;
  o.opener = &owner_.opener;
  o.tag = options_.tag;
  o.features = asked_features();
  std::string peer = peer_name(fd);
  if (peer == "?") peer = name_;
  tunnel_ = std::make_unique<Tunnel>(std::move(connecting_), options_.tls.enabled,
                                     frame::Role::client, peer, owner_.handler, owner_.reaper, o);
  tunnel_->start();
}

uint8_t ServerLink::asked_features() const {
  if (features_refused_) return 0;
  uint8_t f = 0;
  if (options_.want_requests) f |= frame::kHelloFlagRequests;  // REQUEST lines of http mappings
  if (!options_.expose.empty()) f |= frame::kHelloFlagExpose;
  return f;
}

void ServerLink::tunnel_up() { failures_ = 0; }

// Servers before 0.4.0 refuse a HELLO with feature bits and close before
// their own HELLO: we redial at once without them, so their mappings are
// still served.
void ServerLink::tunnel_closed(Tunnel& t) {
  uint8_t asked = asked_features();
  bool old_server = asked != 0 && t.lost_before_peer_hello();
  // A channel that was up: ask again next time (the server may be upgraded,
  // or the loss before its HELLO was a restart, not a refusal).
  if (t.up_since() != 0) features_refused_ = false;
  if (tunnel_.get() == &t) owner_.reaper.bury(std::move(tunnel_));
  if (old_server && !stopped_) {
    features_refused_ = true;
    if (asked & frame::kHelloFlagExpose)
      log_warnx("server %s does not support --expose (it is older than 0.4.0); its own mappings "
                "are served", name_.c_str());
    else
      log_warnx("server %s does not report HTTP requests (it is older than 0.4.0); its own "
                "mappings are served", name_.c_str());
    log_info("server %s closed the connection right after our HELLO asked for features it does "
             "not know: connecting again without them", name_.c_str());
    dial();
    return;
  }
  connection_lost();
}

// Capped exponential back-off with jitter: retry_min, doubling per failure,
// at most retry_max, each wait drawn from [0.5, 1.0] of that so many
// clients cut off together do not come back together.
void ServerLink::schedule_retry() {
  int shift = failures_ > 1 ? std::min(failures_ - 1, 20) : 0;
  long long cap = std::min<long long>(static_cast<long long>(options_.retry_min_sec) << shift,
                                      options_.retry_max_sec);
  uint32_t r = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
  long long ms = cap * 500 + static_cast<long long>(r % 1000) * cap / 2;
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  log_info("server %s: reconnecting in %.1f s", name_.c_str(), static_cast<double>(ms) / 1000);
  evtimer_add(retry_timer_.get(), &tv);
}

void ServerLink::connection_lost() {
  if (stopped_) return;
  ++failures_;
  if (!options_.reconnect) {
    gave_up_ = true;
    stopped_ = true;
    owner_.gave_up(*this);  // may end the loop; nothing of ours runs after
    return;
  }
  schedule_retry();
}

void ServerLink::retry_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<ServerLink*>(arg);
  if (!self->tunnel_ && !self->connecting_ && !self->stopped_) self->dial();
}
