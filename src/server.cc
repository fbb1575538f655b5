#include "server.h"

#include <algorithm>
#include <ctime>

#include <event2/bufferevent_ssl.h>

#include "address.h"
#include "config_warnings.h"
#include "hex.h"
#include "log.h"
#include "mapping_diff.h"
#include "net.h"
#include "stream.h"

namespace {

constexpr size_t kMaxHeld = 1024;  // public connections waiting for a client, in all

// A prefix is enough to tell sessions apart in logs.
std::string hex_session(const SessionId& s) { return hex_encode(s.data(), 4); }

TagGrants grants_from(const ServerConfig& c) {
  TagGrants g;
  for (const auto& kv : c.client_tags) g.grant(kv.first, kv.second);
  return g;
}

}  // namespace

ForwardServer::ForwardServer(event_base* base, ServerConfig config, ServerSecrets secrets)
    : base_(base),
      started_(static_cast<int64_t>(time(nullptr))),
      last_reload_success_(started_),
      config_(std::move(config)),
      secrets_(std::move(secrets)),
      reaper_(base),
      budget_(config_.max_buffered_bytes),
      grants_(grants_from(config_)),
      client_ports_(config_.client_ports),
      expose_addr_(config_.expose_addr) {}

ForwardServer::~ForwardServer() {
  ports_.clear();
  draining_.clear();
  inner_.reset();
  while (!tunnels_.empty()) tunnels_.front()->close("server shutting down");
  reaper_.reap();
}

TunnelOptions ForwardServer::tunnel_options() {
  TunnelOptions o;
  o.auth = secrets_.auth;
  o.limits.handshake_timeout_sec = config_.handshake_timeout_sec;
  o.limits.heartbeat_sec = config_.heartbeat_interval_sec;
  o.limits.open_timeout_sec = config_.open_timeout_sec;
  o.limits.budget = &budget_;
  o.features |= frame::kHelloFlagRequests;  // REQUEST lines of http mappings
  o.features |= frame::kHelloFlagExpose;  // forward-client --expose (server_expose.cc)
  return o;
}

std::unique_ptr<Listener> ForwardServer::bind_inner(const ServerConfig& c, std::string& err) {
  std::string name = format_host_port(c.inner_addr, c.inner_port);
  auto l = std::make_unique<Listener>(base_, "INNER_PORT " + name,
                                      [this](evutil_socket_t fd, const sockaddr* sa) {
                                        accept_client(UniqueFd(fd), sa);
                                      });
  if (!l->bind(c.inner_addr, c.inner_port, err)) {
    err = "cannot listen for clients on " + name + ": " + err;
    return nullptr;
  }
  log_info("listening for clients on %s (%s, %s)", name.c_str(),
           secrets_.tls ? (c.tls_client_ca.empty() ? "TLS" : "mutual TLS") : "plain TCP",
           c.auth_none ? "NO AUTHENTICATION" : "key authentication");
  if (c.auth_none)
    log_warnx("AUTH = none: anyone who can reach %s can open connections to every target",
              name.c_str());
  return l;
}

UdpLimits ForwardServer::udp_limits() const {
  return UdpLimits{config_.udp_timeout_sec, config_.udp_max_sessions, config_.udp_max_datagram};
}

std::unique_ptr<PublicPort> ForwardServer::bind_public(const Mapping& m, std::string& err) {
  PortHost& host = *this;
  auto port = std::make_unique<PublicPort>(base_, m, config_, host);
  if (!port->bind(udp_limits(), err)) return nullptr;
  return port;
}

void ForwardServer::log_tls_fingerprint() {
  std::string fp = secrets_.tls ? certificate_fingerprint(secrets_.tls.get()) : "";
  if (!fp.empty() && fp != tls_fingerprint_)
    log_info("TLS certificate fingerprint %s", fp.c_str());
  tls_fingerprint_ = fp;
}

bool ForwardServer::start(std::string& err) {
  refresh_client_rate_limits();
  inner_ = bind_inner(config_, err);
  if (!inner_) return false;
  log_tls_fingerprint();
  for (const Mapping& m : config_.mappings) {
    auto port = bind_public(m, err);
    if (!port) return false;
    log_info("mapping %s -> %s listening (tag %s%s%s%s)", m.public_name().c_str(),
             m.target_name().c_str(), m.tag.c_str(),
             m.access.empty() ? "" : ", ", m.access.empty() ? "" : m.access.str().c_str(),
             m.limits_text().c_str());
    ports_[m.public_name()] = std::move(port);
  }
  if (config_.mappings.empty()) log_warnx("no mappings configured: nothing will be forwarded");
  for (const ConfigError& w : config_warnings(config_)) log_warnx("%s", w.str().c_str());
  for (const ShadowedMapping& s : config_.shadowed) log_warnx("%s", s.str().c_str());
  return true;
}

bool ForwardServer::reload(ServerConfig nc, ServerSecrets ns) {
  // Listening sockets and identity survive a reload; say so when they would change.
  if (nc.user != config_.user || nc.group != config_.group)
    log_warnx("reload: USER/GROUP changes take effect at the next restart");
  if (nc.expose_addr != config_.expose_addr)
    log_warnx("reload: EXPOSE_ADDR changes take effect at the next restart");
  // All or nothing: every new listener is bound before anything changes.
  std::vector<std::string> failures;
  std::unique_ptr<Listener> inner;
  if (nc.inner_addr != config_.inner_addr || nc.inner_port != config_.inner_port) {
    std::string err;
    inner = bind_inner(nc, err);
    if (!inner) failures.push_back(err);
  }
  exposure_clashes(nc, failures);
  std::vector<Mapping> now = listening_mappings();
  MappingDiff d = diff_mappings(now, nc.mappings);
  StagedPorts staged = stage_ports(d, failures);
  if (!failures.empty()) {
    for (const std::string& f : failures) log_error("reload: %s", f.c_str());
    log_error("reload failed (%zu error%s): still running the previous configuration",
              failures.size(), failures.size() == 1 ? "" : "s");
    return false;
  }
  bool tls_changed = (ns.tls != nullptr) != (secrets_.tls != nullptr);
  secrets_ = std::move(ns);  // new keys and certificates: for new channels only
  log_tls_fingerprint();
  if (inner) {
    inner_ = std::move(inner);
  } else if (tls_changed) {  // the listener stays; new channels use the new mode
    log_notice("reload: new clients on %s now use %s",
               format_host_port(nc.inner_addr, nc.inner_port).c_str(),
               secrets_.tls ? "TLS" : "plain TCP");
  }
  apply_mapping_diff(d, staged, nc.drain_timeout_sec);
  std::string path = config_.path;
  config_ = std::move(nc);
  config_.path = path;
  grants_ = grants_from(config_);
  client_ports_ = ClientPorts(config_.client_ports);
  refresh_exposures();
  budget_.set_cap(config_.max_buffered_bytes);
  refresh_client_rate_limits();
  revoke_channels();
  for (auto& kv : ports_) kv.second->refresh_udp(udp_limits());
  log_notice("configuration reloaded: %zu mappings", ports_.size());
  for (const ConfigError& w : config_warnings(config_)) log_warnx("%s", w.str().c_str());
  for (const ShadowedMapping& s : config_.shadowed) log_warnx("%s", s.str().c_str());
  return true;
}

// The mappings the server listens for now.
std::vector<Mapping> ForwardServer::listening_mappings() const {
  std::vector<Mapping> out;
  out.reserve(ports_.size());
  for (const auto& kv : ports_)
    if (kv.second->mapping().exposed_by.empty()) out.push_back(kv.second->mapping());
  return out;
}

// Binds the listeners of the added mappings before anything changes. One
// that cannot bind while a removed mapping still holds its port (a move
// between the wildcard and one address) waits until the removals are done;
// any other failure goes to failures.
ForwardServer::StagedPorts ForwardServer::stage_ports(const MappingDiff& d,
                                                      std::vector<std::string>& failures) {
  StagedPorts s;
  for (const Mapping* m : d.add) {
    std::string err;
    auto port = bind_public(*m, err);
    if (port) {
      s.bound.push_back(std::move(port));
      continue;
    }
    bool freed_by_removal = std::any_of(d.remove.begin(), d.remove.end(), [m](const Mapping* r) {
      return r->public_port == m->public_port && r->udp == m->udp;
    });
    if (freed_by_removal)
      s.after_removals.push_back(m);
    else
      failures.push_back(err + "; mapping " + m->public_name() + " not added");
  }
  return s;
}

void ForwardServer::apply_mapping_diff(const MappingDiff& d, StagedPorts& staged,
                                       int drain_timeout_sec) {
  for (const Mapping* m : d.remove) remove_port(m->public_name(), drain_timeout_sec);
  for (const MappingChange& c : d.keep)  // also new file:line
    ports_[c.after->public_name()]->set_mapping(*c.after);
  for (const MappingChange& c : d.change) {
    const Mapping& m = *c.after;
    log_notice("mapping %s changed: -> %s tag %s%s (was -> %s tag %s%s); new streams use it",
               m.public_name().c_str(), m.target_name().c_str(), m.tag.c_str(),
               m.limits_text().c_str(), c.before->target_name().c_str(), c.before->tag.c_str(),
               c.before->limits_text().c_str());
    ports_[m.public_name()]->set_mapping(m);
  }
  for (auto& port : staged.bound) {
    const Mapping& m = port->mapping();
    log_notice("mapping %s -> %s added (tag %s)", m.public_name().c_str(),
               m.target_name().c_str(), m.tag.c_str());
    ports_[m.public_name()] = std::move(port);
  }
  // The one part that can still fail: the port was not free before the
  // removals; the next reload tries again (it is not among ports_).
  for (const Mapping* m : staged.after_removals) add_port(*m);
}

void ForwardServer::remove_port(const std::string& name, int drain_timeout_sec) {
  auto it = ports_.find(name);
  const Mapping& m = it->second->mapping();
  log_notice("mapping %s -> %s removed: not listening any more, %zu live streams drain%s",
             m.public_name().c_str(), m.target_name().c_str(), it->second->live(),
             drain_timeout_sec ? (" for up to " + std::to_string(drain_timeout_sec) + " s").c_str() : "");
  if (it->second->drain(drain_timeout_sec)) draining_.push_back(std::move(it->second));
  ports_.erase(it);
}

void ForwardServer::add_port(const Mapping& m) {
  std::string err;
  auto port = bind_public(m, err);
  if (!port) {
    log_error("reload: %s; mapping not added", err.c_str());
    return;
  }
  log_notice("mapping %s -> %s added (tag %s)", m.public_name().c_str(), m.target_name().c_str(),
             m.tag.c_str());
  ports_[m.public_name()] = std::move(port);
}

void ForwardServer::revoke_channels() {
  std::vector<Tunnel*> up;
  for (const auto& t : tunnels_)
    if (t->up()) up.push_back(t.get());
  const AuthSettings& auth = *secrets_.auth;
  for (Tunnel* t : up) {
    ChannelIdentity who = t->identity();
    std::string why;
    if (auth.enabled) {
      const Key* now = auth.key_for(who.name);
      const Key* then = t->proven_key();
      bool named_now = auth.clients.count(who.name) > 0;
      if (!then)
        why = "key revoked: the server now requires authentication";
      else if (!now || *now != *then || named_now != who.named)
        why = "key revoked";
    }
    std::string tag_why;
    if (why.empty() && !grants_.may_serve(who, t->peer_tag(), tag_why)) why = tag_why;
    if (why.empty()) continue;
    log_notice("reload: closing the channel of %s from %s: %s",
               describe(who, config_.auth_none).c_str(), t->peer().c_str(), why.c_str());
    t->close_with_notice(frame::Reason::not_allowed, why);
  }
}

size_t ForwardServer::abort_streams(const void* owner, const std::string& why) {
  size_t n = 0;
  for (auto& t : tunnels_) n += t->abort_channels_owned_by(owner, why);
  return n;
}

RateLimiterPtr ForwardServer::client_rate_limit(const Tunnel& t) {
  auto it = client_rates_.find(t.client_name());
  return it == client_rates_.end() ? nullptr : it->second;
}

void ForwardServer::refresh_client_rate_limits() {
  std::map<std::string, RateLimiterPtr> next;
  for (const auto& [name, rate] : config_.client_rate_limits) {
    auto old = client_rates_.find(name);
    next[name] = old != client_rates_.end() && old->second->rate == rate
                     ? old->second
                     : std::make_shared<RateLimiter>(rate);
  }
  client_rates_ = std::move(next);
}

// Called from the port's own callback: the reaper frees it next turn.
void ForwardServer::port_drained(PublicPort& port) {
  for (auto it = draining_.begin(); it != draining_.end(); ++it)
    if (it->get() == &port) {
      reaper_.bury(std::move(*it));
      draining_.erase(it);
      return;
    }
}

size_t ForwardServer::stream_count() const {
  size_t n = 0;
  for (const auto& t : tunnels_) n += t->stream_count();
  return n;
}

void ForwardServer::shutdown(std::function<void()> done) {
  ports_.clear();
  inner_.reset();
  for (auto& p : draining_) p->drop_held();  // Held owns nothing that needs more than closing
  shutdown_done_ = std::move(done);
  shutdown_deadline_ms_ = loop_time_ms(base_) + config_.drain_timeout_sec * 1000LL;
  size_t n = stream_count();
  if (n) log_notice("stopped accepting; waiting up to %d s for %zu streams to finish",
                    config_.drain_timeout_sec, n);
  drain_tick_.reset(event_new(base_, -1, EV_PERSIST, drain_tick_cb, this));
  timeval tv{0, 100000};
  event_add(drain_tick_.get(), &tv);
  drain_tick();
}

void ForwardServer::drain_tick_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ForwardServer*>(arg)->drain_tick();
}

void ForwardServer::drain_tick() {
  size_t n = stream_count();
  if (n && loop_time_ms(base_) < shutdown_deadline_ms_) return;
  if (n) log_notice("DRAIN_TIMEOUT passed: resetting %zu streams", n);
  drain_tick_.reset();
  while (!tunnels_.empty()) tunnels_.front()->close("server shutting down");
  if (shutdown_done_) shutdown_done_();
}

std::string ForwardServer::summary() const {
  size_t clients = 0, udp = 0;
  for (const auto& t : tunnels_)
    if (t->up()) ++clients;
  for (const auto& kv : ports_)
    if (const UdpPort* u = kv.second->udp()) udp += u->session_count();
  auto count = [](size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  return count(clients, "client") + ", " + count(ports_.size(), "mapping") + ", " +
         count(stream_count(), "stream") + ", " + count(udp, "UDP session");
}

ServerView ForwardServer::view(bool with_streams, const std::string& mapping) const {
  ServerView v;
  v.version = PACKAGE_VERSION;
  v.config_path = config_.path;
  v.started = started_;
  v.last_reload = last_reload_;
  v.last_reload_ok = last_reload_ok_;
  v.reloads_ok = reloads_ok_;
  v.reloads_failed = reloads_failed_;
  v.last_reload_success = last_reload_success_;
  v.sessions_accepted = sessions_accepted_;
  v.sessions_refused = sessions_refused_;
  v.sessions_failed = sessions_never_up_ > sessions_refused_ ? sessions_never_up_ - sessions_refused_ : 0;
  v.handshakes = pending_handshakes();
  v.streams = stream_count();
  v.held = held_count();
  auto add_port = [&v](const PublicPort& p, const char* state) {
    const Mapping& m = p.mapping();
    MappingRow r;
    r.name = m.public_name();
    r.target = m.target_name();
    r.tag = m.tag;
    r.proto = m.udp ? "udp" : "tcp";
    r.state = state;
    r.origin = m.exposed_by.empty() ? m.file + ":" + std::to_string(m.line) : m.exposed_by;
    r.live = p.live();
    const TrafficCounters& c = p.counters();
    r.connections = c.connections;
    r.bytes_in = c.from_local;
    r.bytes_out = c.to_local;
    r.rejected = c.rejected;
    r.connect_seconds = c.connect_seconds;
    if (const UdpPort* u = p.udp()) {
      r.live = u->session_count();
      r.udp_dropped = u->drops();
      r.connections = u->sessions_opened();
      r.bytes_in = u->bytes_in();
      r.bytes_out = u->bytes_out();
      v.udp_sessions += r.live;
    }
    v.mappings.push_back(std::move(r));
  };
  for (const auto& kv : ports_) add_port(*kv.second, kv.second->disabled() ? "disabled" : "listening");
  for (const auto& p : draining_) add_port(*p, "draining");
  for (const ShadowedMapping& s : config_.shadowed) {  // in STATE_FILE, not listened on
    const Mapping& m = s.mapping;
    v.mappings.push_back(MappingRow{m.public_name(), m.target_name(), m.tag, m.udp ? "udp" : "tcp",
                                    "shadowed", m.file + ":" + std::to_string(m.line), 0});
  }
  for (const auto& t : tunnels_) {
    if (!t->up()) continue;
    ++v.channels;
    std::string tls = t->tls_summary();
    v.clients.push_back(ClientRow{t->client_name(), t->peer_tag(), t->peer(),
                                  hex_session(t->peer_session()), tls.empty() ? tls : tls.substr(2),
                                  t->up_since(), t->rtt_ms(), t->stream_count(),
                                  t->datagram_count(), t->bytes_in(), t->bytes_out()});
    if (!with_streams) continue;
    t->for_each_stream([&](const Stream& s) {
      if (!mapping.empty() && s.mapping_name() != mapping) return;
      v.streams_rows.push_back(StreamRow{s.id(), s.mapping_name(), s.peer_name(), t->peer(),
                                         s.bytes_from_local(), s.bytes_to_local(), s.age_sec()});
    });
  }
  return v;
}

size_t ForwardServer::kick(const std::string& who) {
  std::vector<Tunnel*> hit;
  for (const auto& t : tunnels_) {
    if (!t->up()) continue;
    std::string session = hex_encode(t->peer_session().data(), t->peer_session().size());
    bool match = (!t->client_name().empty() && t->client_name() == who) || t->peer() == who ||
                 t->source() == who ||
                 (who.size() >= 4 && session.compare(0, who.size(), who) == 0);
    if (match) hit.push_back(t.get());
  }
  for (Tunnel* t : hit)
    t->close_with_notice(frame::Reason::not_allowed, "closed by the operator (forward-ctl kick)",
                         "kicked by the operator (forward-ctl kick)", LogLevel::notice);
  return hit.size();
}

void ForwardServer::drain() {
  if (drain_requested_) return;
  drain_requested_ = true;
  log_notice("draining: /ready answers 503 from now on; still serving %zu streams and "
             "accepting new connections until stopped",
             stream_count());
}

int ForwardServer::mapping_ready(const std::string& key, std::string& body) const {
  std::vector<const PublicPort*> found;
  PublicKey pk;
  std::string err;
  if (parse_public_key(key, pk, err))
    for (const auto& kv : ports_)
      if (pk.names(kv.second->mapping())) found.push_back(kv.second.get());
  if (found.empty()) {
    body = "no mapping '" + printable(key, 80) + "'";
    return 404;
  }
  if (drain_requested_) {
    body = "draining";
    return 503;
  }
  for (const PublicPort* p : found) {
    if (p->disabled()) continue;
    const std::string& tag = p->mapping().tag;
    for (const auto& t : tunnels_)
      if (t->up() && t->peer_tag() == tag) {
        body = "ready: " + p->mapping().public_name() + " listening, a client of tag " + tag + " up";
        return 200;
      }
  }
  const Mapping& m = found.front()->mapping();
  body = found.front()->disabled() ? "mapping " + m.public_name() + " is disabled"
                                   : "no client of tag " + m.tag + " up for " + m.public_name();
  return 503;
}

bool ForwardServer::set_enabled(const std::string& mapping, bool on, std::string& err) {
  auto it = ports_.find(mapping);
  if (it == ports_.end()) {
    err = "no mapping '" + mapping + "' (forward-ctl mappings lists them)";
    return false;
  }
  if (!(on ? it->second->enable(err) : it->second->disable(err))) return false;
  const UdpPort* udp = it->second->udp();
  log_notice("mapping %s %s by the operator (forward-ctl); %zu live %s %s", mapping.c_str(),
             on ? "enabled" : "disabled", udp ? udp->session_count() : it->second->live(),
             udp ? "UDP sessions" : "streams", on ? "" : "keep going");
  return true;
}

void ForwardServer::note_reload(bool ok) {
  last_reload_ = static_cast<int64_t>(time(nullptr));
  last_reload_ok_ = ok;
  ++(ok ? reloads_ok_ : reloads_failed_);
  if (ok) last_reload_success_ = last_reload_;
}

void ForwardServer::log_status() const {
  size_t pending = pending_handshakes();
  log_notice("status: %zu mappings, %zu channels up (%zu in handshake), %zu streams, %zu held, "
             "%llu of %llu bytes buffered (MAX_BUFFERED_BYTES)%s",
             ports_.size(), tunnels_.size() - pending, pending, stream_count(), held_count(),
             static_cast<unsigned long long>(budget_.used()),
             static_cast<unsigned long long>(budget_.cap()),
             budget_.waiting() ? (", " + std::to_string(budget_.waiting()) + " streams wait for room").c_str() : "");
  for (const auto& t : tunnels_)
    if (t->up())
      log_notice("status: channel from %s%s%s, tag %s, session %s: %zu streams, %llu bytes in, "
                 "%llu bytes out",
                 t->peer().c_str(), t->client_name().empty() ? "" : " as ",
                 t->client_name().c_str(), t->peer_tag().c_str(),
                 hex_session(t->peer_session()).c_str(), t->stream_count(),
                 static_cast<unsigned long long>(t->bytes_in()),
                 static_cast<unsigned long long>(t->bytes_out()));
  for (const auto& t : tunnels_) t->log_flow();  // debug level only
  for (const auto& kv : ports_) {
    const Mapping& m = kv.second->mapping();
    if (const UdpPort* udp = kv.second->udp())
      log_notice("status: mapping %s -> %s, tag %s: %zu udp sessions, %s", m.public_name().c_str(),
                 m.target_name().c_str(), m.tag.c_str(), udp->session_count(),
                 udp->counters().c_str());
    else
      log_notice("status: mapping %s -> %s, tag %s: %zu live%s%s", m.public_name().c_str(),
                 m.target_name().c_str(), m.tag.c_str(), kv.second->live(),
                 m.limits_text().c_str(),
                 kv.second->source_refusals()
                     ? (", " + std::to_string(kv.second->source_refusals()) +
                        " refused by per-source limits").c_str()
                     : "");
  }
}

void ForwardServer::accept_client(UniqueFd fd, const sockaddr* peer) {
  std::string name = format_sockaddr(peer);
  std::string source = format_address(peer);
  set_nodelay(fd.get());
  set_keepalive(fd.get());
  limit_pending_from(source);
  limit_pending_handshakes();
  BufferEventPtr bev;
  if (secrets_.tls) {
    SSL* ssl = SSL_new(secrets_.tls.get());
    // bufferevent_openssl takes the SSL even when it fails (CLOSE_ON_FREE).
    if (ssl)
      bev.reset(bufferevent_openssl_socket_new(base_, fd.get(), ssl, BUFFEREVENT_SSL_ACCEPTING,
                                               BEV_OPT_CLOSE_ON_FREE));
    if (bev) bufferevent_openssl_set_allow_dirty_shutdown(bev.get(), 1);
  } else {
    bev.reset(bufferevent_socket_new(base_, fd.get(), BEV_OPT_CLOSE_ON_FREE));
  }
  if (!bev) {
    log_warnx("connection from %s: out of memory", name.c_str());
    return;
  }
  fd.release();  // the bufferevent closes it
  log_debug("connection from %s on INNER_PORT", name.c_str());
  tunnels_.push_back(std::make_unique<Tunnel>(std::move(bev), secrets_.tls != nullptr,
                                              frame::Role::server, name, *this, reaper_,
                                              tunnel_options()));
  tunnels_.back()->set_source(source);
  tunnels_.back()->start();
  // libevent accepts everything queued in one go and closes the dropped
  // ones only after the loop turn; at the cap, pause accepting until the
  // next turn so open sockets stay near MAX_HANDSHAKES even in a burst.
  if (inner_ && (pending_handshakes() >= static_cast<size_t>(config_.max_handshakes) ||
                 pending_from(source) >=
                     static_cast<size_t>(config_.max_handshakes_per_source)))
    inner_->pause_one_turn();
}

size_t ForwardServer::pending_handshakes() const {
  size_t pending = 0;
  for (const auto& t : tunnels_)
    if (!t->up()) ++pending;
  return pending;
}

size_t ForwardServer::pending_from(const std::string& source) const {
  size_t n = 0;
  for (const auto& t : tunnels_)
    if (!t->up() && !t->closed() && t->source() == source) ++n;
  return n;
}

// One address cannot fill MAX_HANDSHAKES on its own: its own oldest
// handshake goes first, so a flood from one place does not push out slow
// handshakes (TLS over a WAN) from everywhere else.
void ForwardServer::limit_pending_from(const std::string& source) {
  if (pending_from(source) < static_cast<size_t>(config_.max_handshakes_per_source)) return;
  for (const auto& t : tunnels_)
    if (!t->up() && !t->closed() && t->source() == source) {
      t->close("dropped: MAX_HANDSHAKES_PER_SOURCE (" +
               std::to_string(config_.max_handshakes_per_source) + ") connections from " + source +
               " are still in the handshake");
      return;
    }
}

bool ForwardServer::admit_channel(Tunnel& t, std::string& why) {
  ChannelIdentity who = t.identity();
  if (!grants_.may_serve(who, t.peer_tag(), why)) {
    ++sessions_refused_;
    return false;
  }
  // Channels of the same identity, but not the one this channel replaces.
  size_t live = 0;
  for (const auto& o : tunnels_) {
    if (o.get() == &t || !o->up()) continue;
    ChannelIdentity oi = o->identity();
    bool same = who.named ? oi.named && oi.name == who.name : !oi.named;
    bool replaced = o->peer_session() == t.peer_session() && o->client_name() == t.client_name();
    if (same && !replaced) ++live;
  }
  ChannelCaps caps{config_.max_channels_per_client, config_.max_channels_per_shared_key};
  if (within_channel_cap(who, live, caps, why)) return true;
  ++sessions_refused_;
  return false;
}

void ForwardServer::limit_pending_handshakes() {
  if (pending_handshakes() < static_cast<size_t>(config_.max_handshakes)) return;
  for (const auto& t : tunnels_)
    if (!t->up()) {
      t->close("dropped: MAX_HANDSHAKES (" + std::to_string(config_.max_handshakes) +
               ") connections are still in the handshake");
      return;
    }
}

Tunnel* ForwardServer::pick_tunnel(const std::string& tag) {
  if (tag.find(' ') != std::string::npos) return pick_exposure_channel(tag);  // an exposed port
  // Once per new stream: count, then walk to the pick, without a list.
  size_t n = 0;
  for (const auto& t : tunnels_)
    if (t->up() && t->peer_tag() == tag) ++n;
  if (n == 0) return nullptr;
  size_t& next = round_robin_[tag];
  size_t k = next % n;
  ++next;
  for (const auto& t : tunnels_)
    if (t->up() && t->peer_tag() == tag && k-- == 0) return t.get();
  return nullptr;
}

bool ForwardServer::may_hold() const {
  return config_.client_wait_sec > 0 && held_count() < kMaxHeld && !shutdown_done_;
}

size_t ForwardServer::held_count() const {
  size_t n = 0;
  for (const auto& kv : ports_) n += kv.second->held_count();
  for (const auto& p : draining_) n += p->held_count();
  return n;
}

// Held connections of every port, in the order they came, so ports do not
// take turns ahead of older connections.
void ForwardServer::release_held(const std::string& tag) {
  std::vector<std::pair<uint64_t, PublicPort*>> waiting;
  for (auto& kv : ports_) kv.second->held_for(tag, waiting);
  for (auto& p : draining_) p->held_for(tag, waiting);
  std::sort(waiting.begin(), waiting.end());
  for (const auto& w : waiting)
    if (Tunnel* t = pick_tunnel(tag)) w.second->release_held(w.first, *t);
}

void ForwardServer::tunnel_up(Tunnel& t) {
  ++sessions_accepted_;
  log_notice("client %s: channel up (protocol %u%s%s%s, tag %s, session %s)", t.peer().c_str(),
             frame::kVersion, t.tls_summary().c_str(),
             config_.auth_none ? ", NO AUTHENTICATION" : ", authenticated",
             t.client_name().empty() ? "" : (" as " + t.client_name()).c_str(), t.peer_tag().c_str(),
             hex_session(t.peer_session()).c_str());
  // A client that reconnects replaces its old channel at once, so its ports
  // never wait for the old one to time out.
  static const SessionId kNoSession{};
  for (auto& other : tunnels_)
    if (other.get() != &t && other->up() && t.peer_session() != kNoSession &&
        other->peer_session() == t.peer_session() && other->client_name() == t.client_name()) {
      other->close("replaced by a new channel of the same client session (" + t.peer() + ")");
      break;  // the list changed; a session has at most one old channel
    }
  release_held(t.peer_tag());
}

void ForwardServer::tunnel_closed(Tunnel& t) {
  if (t.up_since() == 0) ++sessions_never_up_;
  else exposure_owner_down(t);
  for (auto it = tunnels_.begin(); it != tunnels_.end(); ++it)
    if (it->get() == &t) {
      reaper_.bury(std::move(*it));
      tunnels_.erase(it);
      return;
    }
}

