#include "client.h"

#include <algorithm>
#include <cstring>

#include <openssl/rand.h>

#include "address.h"
#include "http_log.h"
#include "log.h"
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
      reaper_(base) {
  // One session id for the life of the process: a server uses it to
  // replace our old channel at once when we reconnect.
  RAND_bytes(session_.data(), static_cast<int>(session_.size()));
}

ForwardClient::~ForwardClient() {
  stopping_ = true;
  for (auto& link : links_) link->close("client shutting down");
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
  targets_.counters = counters_;
  targets_.connect_seconds = &connect_seconds_;
  // The budget is shared by every channel, so its summary names none.
  std::string servers = options_.servers.size() == 1
                            ? format_host_port(options_.servers[0].host, options_.servers[0].port)
                            : "(any)";
  targets_.warn_limit = [this, servers](const std::string& line) {
    warn_limit(pending_warning_, servers, line);
  };
  exposed_targets_ = targets_;
  exposed_targets_.policy = &allow_all_;
  for (const ServerAddress& a : options_.servers) {
    ServerLink::Owner owner{*this, *this, reaper_, dns_.get(),
                            [this](ServerLink&) { link_gave_up(); },
                            [this](ServerLink& link, const std::string& why) {
                              events_->channel_down(link.name(), why);
                            }};
    links_.push_back(std::make_unique<ServerLink>(base_, options_, a, session_, owner));
  }
  for (auto& link : links_) link->start();
  return true;
}

size_t ForwardClient::stream_count() const {
  size_t n = 0;
  for (const auto& link : links_)
    if (link->tunnel()) n += link->tunnel()->stream_count();
  return n;
}

void ForwardClient::shutdown() {
  stopping_ = true;
  for (auto& link : links_) link->stop();
  drain_deadline_ms_ = loop_time_ms(base_) + options_.drain_timeout_sec * 1000LL;
  if (size_t n = stream_count())
    log_notice("waiting up to %d s for %zu streams to finish", options_.drain_timeout_sec, n);
  drain_timer_.reset(event_new(base_, -1, EV_PERSIST, drain_cb, this));
  timeval tv{0, 100000};
  event_add(drain_timer_.get(), &tv);
  drain_tick();
}

void ForwardClient::drain_cb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ForwardClient*>(arg)->drain_tick();
}

void ForwardClient::drain_tick() {
  size_t n = stream_count();
  if (n && loop_time_ms(base_) < drain_deadline_ms_) return;
  drain_timer_.reset();
  for (auto& link : links_)
    link->close(n ? "client shutting down, drain time over" : "client shutting down");
  done_(0);
}

void ForwardClient::poke() {
  for (auto& link : links_) link->poke();
}

// --no-reconnect: the client exits (status 1) when its last link ends.
void ForwardClient::link_gave_up() {
  for (const auto& link : links_)
    if (link->active()) return;
  log_notice("--no-reconnect: exiting (no channel left)");
  done_(1);
}

ServerLink* ForwardClient::link_of(const Tunnel& t) const {
  for (const auto& link : links_)
    if (link->owns(t)) return link.get();
  return nullptr;
}

void ForwardClient::tunnel_up(Tunnel& t) {
  ServerLink* link = link_of(t);
  if (link) link->tunnel_up();
  ++channels_up_;
  log_notice("server %s: channel up (protocol %u%s%s, tag %s)", t.peer().c_str(), frame::kVersion,
             t.tls_summary().c_str(),
             options_.auth->enabled ? ", authenticated" : ", NO AUTHENTICATION",
             options_.tag.c_str());
  events_->channel_up(link ? link->name() : t.peer(), t.tls_summary());
  if (link) ask_exposures(t, *link);
  if (on_up_) on_up_();
}

void ForwardClient::ask_exposures(Tunnel& t, const ServerLink& link) {
  if (!link.asks_expose()) return;
  if (!t.has_feature(frame::kHelloFlagExpose)) {
    log_warnx("server %s does not support --expose (it is older than 0.4.0); its own mappings "
              "are served", link.name().c_str());
    for (const ExposeSpec& spec : options_.expose)
      events_->expose_refused(spec.text, "server " + link.name() + " does not support --expose");
    return;
  }
  for (size_t i = 0; i < options_.expose.size(); ++i) {
    const ExposeSpec& spec = options_.expose[i];
    frame::Expose e;
    e.request = static_cast<uint32_t>(i + 1);
    e.udp = spec.udp;
    e.http = spec.http;
    e.public_port = spec.public_port;
    e.target_host = spec.host;
    e.target_port = spec.port;
    std::string payload;
    frame::encode_expose(e, payload);
    t.send_control(frame::Type::expose, 0, payload);
  }
}

void ForwardClient::expose_replied(Tunnel& t, const frame::ExposeReply& r) {
  ServerLink* link = link_of(t);
  if (!link || r.request == 0 || r.request > options_.expose.size()) {
    log_warnx("server %s: EXPOSE_REPLY for request %u, which we never sent: ignored",
              t.peer().c_str(), r.request);
    return;
  }
  const ExposeSpec& spec = options_.expose[r.request - 1];
  if (r.result == static_cast<uint8_t>(frame::ExposeResult::ok)) {
    std::string url = spec.url(link->host(), r.public_port);
    granted_[&t].insert(r.request);
    log_notice("%s -> %s", url.c_str(), spec.target_name().c_str());
    events_->exposed(spec.text, url, spec.target_name());
    return;
  }
  std::string why = r.text.empty() ? frame::expose_result_name(r.result) : printable(r.text);
  log_warnx("server %s refused --expose %s: %s", link->name().c_str(), printable(spec.text).c_str(),
            why.c_str());
  events_->expose_refused(spec.text, why);
}

bool ForwardClient::exposed_target(const Tunnel& t, const std::string& host, uint16_t port,
                                   bool udp) const {
  auto it = granted_.find(&t);
  if (it == granted_.end()) return false;
  for (uint32_t request : it->second) {
    const ExposeSpec& spec = options_.expose[request - 1];
    if (spec.udp == udp && spec.port == port && spec.host == host) return true;
  }
  return false;
}

bool ForwardClient::channel_up() const {
  for (const auto& link : links_)
    if (link->up()) return true;
  return false;
}

// With several servers: channel_up counts the channels up now, reconnects
// add up, and the round trip is the slowest channel's.
ClientMetrics ForwardClient::metrics() const {
  ClientMetrics m;
  m.version = PACKAGE_VERSION;
  m.started = started_;
  m.channels_up = channels_up_;
  for (const auto& link : links_) {
    m.reconnects += link->attempts() > 0 ? link->attempts() - 1 : 0;
    if (!link->up()) continue;
    ++m.channel_up;
    m.rtt_ms = std::max<int64_t>(m.rtt_ms, link->tunnel()->rtt_ms());
    m.streams += link->tunnel()->stream_count();
  }
  m.streams_total = counters_->connections;
  m.bytes_to_targets = counters_->to_local;
  m.bytes_from_targets = counters_->from_local;
  m.target_failures = counters_->rejected;
  m.connect_seconds = connect_seconds_;
  return m;
}

// "channel up to A, tag T: 3 streams, 0 UDP sessions; connecting to B (2
// attempts failed)": one clause per server.
std::string ForwardClient::summary() const {
  if (stopping_) return "stopping";
  std::string out;
  for (const auto& link : links_) out += (out.empty() ? "" : "; ") + link->summary();
  return out;
}

// Events name a server as it was given (the link's name), not by the
// address it resolved to.
void ForwardClient::tunnel_closed(Tunnel& t) {
  granted_.erase(&t);
  ServerLink* link = link_of(t);
  std::string server = link ? link->name() : t.peer();
  if (link) link->tunnel_closed(t);
  events_->channel_down(server, t.close_reason());
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
  // --expose targets are ours to choose; --allow limits the server's own.
  if (exposed_target(t, host, port, strcmp(kind, "udp") == 0)) return true;
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
  if (open.proxy.version != proxy::Version::off)
    label += std::string(", PROXY ") + proxy::version_name(open.proxy.version) + " id " +
             open.proxy.unique_id;
  Stream* s = t.add_channel(std::make_unique<Stream>(t, id, std::move(bev), label));
  ++counters_->connections;
  if (open.proxy.version != proxy::Version::off)
    s->send_first(proxy::build(open.proxy.version, open.proxy.ends, open.proxy.unique_id));
  s->connect_target(exposed_target(t, open.host, open.port, false) ? exposed_targets_ : targets_,
                    open.host, open.port, open.window);
}

// One HTTP request of an http mapping, as the server saw it: logged (the
// same line as the server's) and told to the console.
void ForwardClient::request_reported(Tunnel& t, uint32_t id, const frame::Request& r) {
  RequestRecord rec;
  rec.method = r.method;
  rec.path = r.path;
  rec.status = r.status;
  rec.bytes = r.bytes;
  rec.latency_us = r.latency_us;
  rec.peer = r.peer;
  rec.mapping = r.mapping;
  if (log_enabled(LogLevel::debug))
    log_debug("request %s %s %s (server %s, stream %u)", printable(r.mapping).c_str(),
              printable(r.peer).c_str(),
              format_request(r.method, r.path, false, r.status, r.bytes, r.latency_us).c_str(),
              t.peer().c_str(), id);
  events_->request(rec);
}

void ForwardClient::udp_open_requested(Tunnel& t, uint32_t id, const frame::UdpOpen& open) {
  if (!admit(t, id, open.host, open.port, "udp")) return;
  if (over_cap(t, id, t.datagram_count(), options_.max_udp_sessions, udp_warning_, "udp",
               open.host, open.port))
    return;
  const TargetPolicy& allow = exposed_target(t, open.host, open.port, true) ? allow_all_ : options_.allow;
  UdpTarget* target = t.add_channel(
      std::make_unique<UdpTarget>(base_, dns_.get(), allow, t, id, open.host, open.port));
  // decode_udp_open() admits v2 only: each datagram gets a DGRAM header.
  if (open.proxy.version == proxy::Version::v2)
    target->set_header(proxy::build_v2(open.proxy.ends, open.proxy.unique_id, true));
  target->start();  // may fail at once and end itself (deferred free)
}
