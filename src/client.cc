#include "client.h"

#include <cstring>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/rand.h>

#include "address.h"
#include "log.h"
#include "net.h"
#include "stream.h"

namespace {
constexpr int64_t kLimitWarningMs = 5000;  // a count of refusals at most this often
}  // namespace

ForwardClient::LimitWarning::LimitWarning(event_base* b, const char* w, const char* u,
                                          const char* o)
    : base(b), what(w), unit(u), option(o), throttle(kLimitWarningMs),
      timer(evtimer_new(b, ForwardClient::limit_warning_cb, this)) {}

ForwardClient::ForwardClient(event_base* base, ClientOptions options, std::function<void(int)> done)
    : base_(base),
      options_(std::move(options)),
      done_(std::move(done)),
      pending_(options_.max_pending_bytes),
      streams_warning_(base, "OPENs refused", "streams", "--max-streams"),
      udp_warning_(base, "UDP_OPENs refused", "UDP sessions", "--max-udp-sessions"),
      pending_warning_(base, "streams reset", "", "--max-pending-bytes"),
      reaper_(base),
      retry_timer_(evtimer_new(base, retry_cb, this)) {
  // One session id for the life of the process: the server uses it to
  // replace our old channel at once when we reconnect.
  RAND_bytes(session_.data(), static_cast<int>(session_.size()));
}

ForwardClient::~ForwardClient() {
  connecting_.reset();
  if (tunnel_) tunnel_->close("client shutting down");
  reaper_.reap();
}

bool ForwardClient::start(std::string& err) {
  // Reads /etc/resolv.conf and /etc/hosts; without them, numeric targets
  // still work and names fail with a DNS error per stream.
  dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS));
  if (!dns_) {
    log_warnx("cannot read the resolver configuration; only numeric targets will work");
    dns_.reset(evdns_base_new(base_, 0));
    if (!dns_) {
      err = "cannot create a DNS resolver";
      return false;
    }
  }
  targets_.dns = dns_.get();
  targets_.policy = &options_.allow;
  targets_.connect_timeout_sec = options_.connect_timeout_sec;
  targets_.pending = &pending_;
  targets_.warn_limit = [this](const std::string& line) {
    warn_limit(pending_warning_, tunnel_ ? tunnel_->peer() : "?", line);
  };
  connect_server();
  return true;
}

void ForwardClient::shutdown() {
  stopping_ = true;
  evtimer_del(retry_timer_.get());
  connecting_.reset();
  drain_deadline_ms_ = loop_time_ms(base_) + options_.drain_timeout_sec * 1000LL;
  if (tunnel_ && tunnel_->stream_count())
    log_notice("waiting up to %d s for %zu streams to finish", options_.drain_timeout_sec,
               tunnel_->stream_count());
  drain_timer_.reset(event_new(base_, -1, EV_PERSIST, drain_cb, this));
  timeval tv{0, 100000};
  event_add(drain_timer_.get(), &tv);
  drain_tick();
}

void ForwardClient::drain_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ForwardClient*>(arg)->drain_tick();
}

void ForwardClient::drain_tick() {
  size_t n = tunnel_ ? tunnel_->stream_count() : 0;
  if (n && loop_time_ms(base_) < drain_deadline_ms_) return;
  drain_timer_.reset();
  if (tunnel_) tunnel_->close(n ? "client shutting down, drain time over" : "client shutting down");
  done_(0);
}

void ForwardClient::poke() {
  if (tunnel_ && tunnel_->up()) {
    log_notice("status: channel up to %s, tag %s: %zu streams, %llu bytes in, %llu bytes out",
               tunnel_->peer().c_str(), options_.tag.c_str(), tunnel_->stream_count(),
               static_cast<unsigned long long>(tunnel_->bytes_in()),
               static_cast<unsigned long long>(tunnel_->bytes_out()));
    tunnel_->log_flow();  // debug level only
    return;
  }
  log_notice("status: channel down (%d failed attempts)%s", failures_,
             connecting_ ? ", connecting" : ", retrying now");
  if (!connecting_ && !tunnel_ && !stopping_) {
    evtimer_del(retry_timer_.get());
    connect_server();
  }
}

void ForwardClient::connect_server() {
  std::string target = format_host_port(options_.server_host, options_.server_port);
  log_info("connecting to server %s", target.c_str());
  if (options_.tls.enabled) {
    std::string err;
    SslPtr ssl = new_client_ssl(options_.tls_ctx.get(), options_.tls, options_.server_host, err);
    // bufferevent_openssl takes the SSL even when it fails (CLOSE_ON_FREE).
    if (ssl)
      connecting_.reset(bufferevent_openssl_socket_new(base_, -1, ssl.release(),
                                                       BUFFEREVENT_SSL_CONNECTING,
                                                       BEV_OPT_CLOSE_ON_FREE));
    else
      log_warnx("server %s: %s", target.c_str(), err.c_str());
    if (connecting_) bufferevent_openssl_set_allow_dirty_shutdown(connecting_.get(), 1);
  } else {
    connecting_.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  }
  if (!connecting_) {
    log_warnx("server %s: cannot create socket", target.c_str());
    connection_lost();
    return;
  }
  bufferevent_setcb(connecting_.get(), nullptr, nullptr, connect_event_cb, this);
  timeval tv{options_.connect_timeout_sec, 0};
  bufferevent_set_timeouts(connecting_.get(), nullptr, &tv);
  // The name is resolved again on every attempt: the server may have moved.
  if (bufferevent_socket_connect_hostname(connecting_.get(), dns_.get(), AF_UNSPEC,
                                          options_.server_host.c_str(), options_.server_port) != 0) {
    log_warnx("server %s: cannot start connecting", target.c_str());
    connecting_.reset();
    connection_lost();
  }
}

void ForwardClient::connect_event_cb(bufferevent*, short what, void* arg) noexcept {
  static_cast<ForwardClient*>(arg)->on_connect_event(what);
}

void ForwardClient::on_connect_event(short what) {
  std::string target = format_host_port(options_.server_host, options_.server_port);
  if (!(what & BEV_EVENT_CONNECTED)) {
    int dns_err = bufferevent_socket_get_dns_error(connecting_.get());
    int sock_err = EVUTIL_SOCKET_ERROR();
    std::string tls_err = options_.tls.enabled ? tls_error_text(connecting_.get()) : "";
    std::string why = dns_err                      ? evutil_gai_strerror(dns_err)
                      : (what & BEV_EVENT_TIMEOUT) ? "connect timed out"
                      : !tls_err.empty()           ? "TLS: " + tls_err
                      : (sock_err == 0 && options_.tls.enabled)
                          ? "TLS handshake failed: the server closed the connection (is it a "
                            "TLS server? without TLS_CERT on the server, drop --tls)"
                          : evutil_socket_error_to_string(sock_err);
    log_warnx("server %s: cannot connect: %s", target.c_str(), why.c_str());
    connecting_.reset();
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
  o.opener = this;
  o.tag = options_.tag;
  std::string peer = peer_name(fd);
  if (peer == "?") peer = format_host_port(options_.server_host, options_.server_port);
  tunnel_ = std::make_unique<Tunnel>(std::move(connecting_), options_.tls.enabled,
                                     frame::Role::client, peer, *this, reaper_, o);
  tunnel_->start();
}

// Capped exponential back-off with jitter: retry_min, doubling per failure,
// at most retry_max, each wait drawn from [0.5, 1.0] of that so many
// clients cut off together do not come back together.
void ForwardClient::schedule_retry() {
  int shift = failures_ > 1 ? std::min(failures_ - 1, 20) : 0;
  long long cap = std::min<long long>(static_cast<long long>(options_.retry_min_sec) << shift,
                                      options_.retry_max_sec);
  uint32_t r = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
  long long ms = cap * 500 + static_cast<long long>(r % 1000) * cap / 2;
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  log_info("reconnecting in %.1f s", static_cast<double>(ms) / 1000);
  evtimer_add(retry_timer_.get(), &tv);
}

void ForwardClient::connection_lost() {
  if (stopping_) return;
  ++failures_;
  if (!options_.reconnect) {
    log_notice("--no-reconnect: exiting");
    done_(1);
    return;
  }
  schedule_retry();
}

void ForwardClient::retry_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<ForwardClient*>(arg);
  if (!self->tunnel_ && !self->connecting_ && !self->stopping_) self->connect_server();
}

void ForwardClient::tunnel_up(Tunnel& t) {
  failures_ = 0;
  log_notice("server %s: channel up (protocol %u%s%s, tag %s)", t.peer().c_str(), frame::kVersion,
             t.tls_summary().c_str(),
             options_.auth->enabled ? ", authenticated" : ", NO AUTHENTICATION",
             options_.tag.c_str());
  if (on_up_) on_up_();
}

std::string ForwardClient::summary() const {
  std::string server = format_host_port(options_.server_host, options_.server_port);
  if (stopping_) return "stopping";
  if (!tunnel_ || !tunnel_->up())
    return "connecting to " + server +
           (failures_ ? " (" + std::to_string(failures_) + " attempts failed)" : "");
  return "channel up to " + server + ", tag " + options_.tag + ": " +
         std::to_string(tunnel_->stream_count()) + " streams, " +
         std::to_string(tunnel_->datagram_count()) + " UDP sessions";
}

void ForwardClient::tunnel_closed(Tunnel& t) {
  if (tunnel_.get() == &t) reaper_.bury(std::move(tunnel_));
  connection_lost();
}

// Refuses (OPEN_FAIL) what the client will not open: anything while it
// stops, and targets outside --allow. kind names the request in the log.
bool ForwardClient::admit(Tunnel& t, uint32_t id, const std::string& host, uint16_t port,
                          const char* kind) {
  if (stopping_) {
    t.send_failure(frame::Type::open_fail, id, frame::Reason::resource_limit,
                   "client shutting down");
    return false;
  }
  if (!options_.allow.permits(host, port)) {
    log_warnx("server %s asked for %s (%s, id %u): refused, not in --allow (%s)",
              t.peer().c_str(), format_host_port(printable(host), port).c_str(), kind, id,
              options_.allow.str().c_str());
    t.send_failure(frame::Type::open_fail, id, frame::Reason::not_allowed,
                   "target not allowed by the client");
    return false;
  }
  return true;
}

void ForwardClient::warn_limit(LimitWarning& w, const std::string& peer, const std::string& line) {
  w.peer = peer;
  if (w.throttle.admit(loop_time_ms(base_))) {
    log_warnx("%s (more are counted, reported every %lld s)", line.c_str(),
              static_cast<long long>(kLimitWarningMs / 1000));
    return;
  }
  if (!evtimer_pending(w.timer.get(), nullptr)) {
    timeval tv{static_cast<time_t>(kLimitWarningMs / 1000), 0};
    evtimer_add(w.timer.get(), &tv);
  }
}

void ForwardClient::limit_warning_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* w = static_cast<LimitWarning*>(arg);
  if (uint64_t n = w->throttle.take_suppressed(loop_time_ms(w->base)))
    log_warnx("server %s: %llu more %s by %s in the last %lld s", w->peer.c_str(),
              static_cast<unsigned long long>(n), w->what, w->option,
              static_cast<long long>(kLimitWarningMs / 1000));
}

bool ForwardClient::over_cap(Tunnel& t, uint32_t id, size_t count, size_t cap, LimitWarning& w,
                             const char* kind, const std::string& host, uint16_t port) {
  if (count < cap) return false;
  std::string why = std::to_string(count) + " " + w.unit + " open, the " + w.option + " limit";
  warn_limit(w, t.peer(),
             "server " + t.peer() + " asked for " + format_host_port(printable(host), port) + " (" +
                 kind + ", id " + std::to_string(id) + "): refused, " + why);
  t.send_failure(frame::Type::open_fail, id, frame::Reason::resource_limit, "client: " + why);
  return true;
}

void ForwardClient::open_requested(Tunnel& t, uint32_t id, const frame::Open& open) {
  if (!admit(t, id, open.host, open.port, "tcp")) return;
  if (over_cap(t, id, t.stream_count(), options_.max_streams, streams_warning_, "tcp", open.host,
               open.port))
    return;
  BufferEventPtr bev(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!bev) {
    t.send_failure(frame::Type::open_fail, id, frame::Reason::resource_limit, "out of memory");
    return;
  }
  std::string label = "target " + format_host_port(printable(open.host), open.port) +
                      ", server stream " + std::to_string(id);
  Stream* s = t.add_channel(std::make_unique<Stream>(t, id, std::move(bev), label));
  s->connect_target(targets_, open.host, open.port, open.window);
}

void ForwardClient::udp_open_requested(Tunnel& t, uint32_t id, const frame::UdpOpen& open) {
  if (!admit(t, id, open.host, open.port, "udp")) return;
  if (over_cap(t, id, t.datagram_count(), options_.max_udp_sessions, udp_warning_, "udp",
               open.host, open.port))
    return;
  UdpTarget* target = t.add_channel(std::make_unique<UdpTarget>(base_, dns_.get(), options_.allow,
                                                                t, id, open.host, open.port));
  target->start();  // may fail at once and end itself (deferred free)
}
