// ForwardServer's part of forward-client --expose (docs/PROTOCOL.md,
// EXPOSE): [CLIENT_PORTS] decides (client_ports.*), the server binds and
// keeps the socket, and the port lives in ports_ as a PublicPort like any
// mapping. Ports stay EXPOSE_HOLD seconds after their client's last
// channel went down, so a reconnecting client gets them back.
#include <algorithm>
#include <map>
#include <set>

#include "address.h"
#include "hex.h"
#include "log.h"
#include "server.h"

namespace {

const char* proto_suffix(bool udp) { return udp ? "/udp" : ""; }

}  // namespace

std::string ForwardServer::exposure_owner(const Tunnel& t) {
  ChannelIdentity who = t.identity();
  if (who.named) return "client " + who.name;
  return "session " + hex_encode(t.peer_session().data(), t.peer_session().size());
}

Mapping ForwardServer::exposed_mapping(const Exposure& e) const {
  Mapping m;
  m.bind_host = expose_addr_;
  m.public_port = e.port;
  m.udp = e.udp;
  m.http = e.http;
  m.target_host = e.target_host;
  m.target_port = e.target_port;
  m.file = e.owner;  // for messages that name where a mapping comes from
  m.tag = exposure_route(e);
  m.exposed_by = e.owner;
  apply_all_config_rules(config_, m);
  return m;
}

std::string ForwardServer::exposure_route(const Exposure& e) {
  return e.owner + (e.udp ? " udp " : " tcp ") + std::to_string(e.port);
}

// Round robin among the channels that asked for the port (and got the
// reply, which goes out before any stream of it).
Tunnel* ForwardServer::pick_exposure_channel(const std::string& route) {
  std::vector<Tunnel*> candidates;
  auto range = exposure_claims_.equal_range(route);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second->up()) candidates.push_back(it->second);
  if (candidates.empty()) return nullptr;
  size_t& next = round_robin_[route];
  return candidates[next++ % candidates.size()];
}

void ForwardServer::claim_exposure(const std::string& route, Tunnel& t) {
  auto range = exposure_claims_.equal_range(route);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second == &t) return;  // asked twice on one channel
  exposure_claims_.emplace(route, &t);
  for (const Exposure& e : exposures_.all())
    if (exposure_route(e) == route) exposures_.back(e.port, e.udp);  // EXPOSE_HOLD stops
  schedule_expose_hold();
}

std::string ForwardServer::port_taken(uint16_t port, bool udp, const std::string& owner) const {
  Mapping want;
  want.bind_host = expose_addr_;
  want.public_port = port;
  want.udp = udp;
  if (const Exposure* e = exposures_.holder(port, udp))
    return "port " + std::to_string(port) + proto_suffix(udp) + " is held by " +
           (e->owner == owner ? "this client already" : "another client");
  Mapping inner;
  inner.bind_host = config_.inner_addr;
  inner.public_port = config_.inner_port;
  if (mappings_overlap(want, inner)) return "port " + std::to_string(port) + " is INNER_PORT";
  for (const auto& kv : ports_)
    if (mappings_overlap(want, kv.second->mapping()))
      return "port " + std::to_string(port) + proto_suffix(udp) +
             " is mapped by the server's configuration";
  for (const auto& p : draining_)
    if (mappings_overlap(want, p->mapping()))
      return "port " + std::to_string(port) + proto_suffix(udp) + " is still draining";
  return "";
}

void ForwardServer::send_expose_reply(Tunnel& t, uint32_t request, frame::ExposeResult result,
                                      uint16_t port, const std::string& text) {
  std::string payload;
  frame::encode_expose_reply(
      frame::ExposeReply{request, static_cast<uint8_t>(result), port, text}, payload);
  t.send_control(frame::Type::expose_reply, 0, payload);
}

void ForwardServer::expose_requested(Tunnel& t, const frame::Expose& e) {
  std::string owner = exposure_owner(t);
  std::string target = format_host_port(printable(e.target_host), e.target_port);
  std::string what = std::string(e.udp ? "udp" : e.http ? "http" : "tcp") + " port " +
                     (e.public_port ? std::to_string(e.public_port) : std::string("(any)")) +
                     " -> " + target;
  ExposeAsker asker{t.identity().named ? t.client_name() : "", t.peer_tag()};
  auto refuse = [&](frame::ExposeResult r, const std::string& why) {
    log_notice("client %s (%s): --expose %s refused: %s", t.peer().c_str(), owner.c_str(),
               what.c_str(), why.c_str());
    send_expose_reply(t, e.request, r, 0, why);
  };
  if (shutdown_done_) return refuse(frame::ExposeResult::refused, "server shutting down");
  Exposure want{owner, "", e.udp, e.http, e.public_port, e.target_host, e.target_port};
  // Asked again (a reconnect, or another channel of the same client): the
  // port it holds, while its grant still gives it.
  std::set<std::pair<uint16_t, bool>> mine;  // ports this channel asked for already
  for (const Exposure& x : exposures_.of_owner(owner)) {
    auto range = exposure_claims_.equal_range(exposure_route(x));
    for (auto it = range.first; it != range.second; ++it)
      if (it->second == &t) mine.insert({x.port, x.udp});
  }
  if (const Exposure* have = exposures_.same_request(owner, want, mine)) {
    if (client_ports_.may_hold(asker, have->port, have->udp)) {
      log_notice("client %s (%s): --expose %s: port %u%s again", t.peer().c_str(), owner.c_str(),
                 what.c_str(), have->port, proto_suffix(have->udp));
      send_expose_reply(t, e.request, frame::ExposeResult::ok, have->port, "");
      std::string route = exposure_route(*have);
      claim_exposure(route, t);
      release_held(route);
      return;
    }
    release_exposure(*have, "no longer granted to " + owner);
  }
  std::string taken_why;
  ExposePlan plan = client_ports_.plan(
      asker, e.udp, e.public_port,
      [&](const std::string& grant) { return exposures_.count(owner, grant); },
      [&](uint16_t port) {
        std::string why = port_taken(port, e.udp, owner);
        if (!why.empty() && port == e.public_port) taken_why = why;
        return !why.empty();
      },
      rng_);
  if (!plan.ok)
    return refuse(static_cast<frame::ExposeResult>(plan.result),
                  taken_why.empty() ? plan.why : taken_why);
  // The bind is the real test (another program may hold the port): try a
  // few of the grant's free ports.
  constexpr size_t kMaxBindTries = 16;
  std::string err;
  size_t tries = 0;
  for (uint16_t port : plan.candidates) {
    if (++tries > kMaxBindTries) break;
    Exposure x{owner, plan.grant, e.udp, e.http, port, e.target_host, e.target_port};
    Mapping m = exposed_mapping(x);
    std::unique_ptr<PublicPort> p = bind_public(m, err);
    if (!p) continue;
    exposures_.add(x);
    log_notice("client %s (%s): exposed %s -> %s (grant %s%s)", t.peer().c_str(), owner.c_str(),
               m.public_name().c_str(), m.target_name().c_str(), plan.grant.c_str(),
               m.limits_text().c_str());
    ports_[m.public_name()] = std::move(p);
    send_expose_reply(t, e.request, frame::ExposeResult::ok, port, "");
    claim_exposure(exposure_route(x), t);
    return;
  }
  refuse(frame::ExposeResult::bind_failed, "cannot listen: " + err);
}

void ForwardServer::exposure_owner_down(Tunnel& t) {
  if (!t.has_feature(frame::kHelloFlagExpose)) return;
  for (auto it = exposure_claims_.begin(); it != exposure_claims_.end();)
    it = it->second == &t ? exposure_claims_.erase(it) : std::next(it);
  if (!inner_) return;  // stopping: the ports are gone already
  std::string owner = exposure_owner(t);
  for (const auto& o : tunnels_)
    if (o.get() != &t && o->up() && o->has_feature(frame::kHelloFlagExpose) &&
        exposure_owner(*o) == owner)
      return;
  std::vector<Exposure> mine = exposures_.of_owner(owner);
  if (mine.empty()) return;
  log_notice("%s: no channel up; its %zu exposed port%s for EXPOSE_HOLD (%d s)",
             owner.c_str(), mine.size(), mine.size() == 1 ? " stays" : "s stay",
             config_.expose_hold_sec);
  exposures_.owner_away(owner, loop_time_ms(base_));
  schedule_expose_hold();
}

void ForwardServer::release_exposure(const Exposure& e, const std::string& why) {
  Exposure gone = e;  // e may live in the book
  exposures_.remove(gone.port, gone.udp);
  exposure_claims_.erase(exposure_route(gone));
  std::string name = exposed_mapping(gone).public_name();
  auto it = ports_.find(name);
  if (it == ports_.end()) return;  // shutting down
  log_notice("exposed port %s -> %s of %s released: %s; %zu live streams drain", name.c_str(),
             it->second->mapping().target_name().c_str(), gone.owner.c_str(), why.c_str(),
             it->second->live());
  if (it->second->drain(config_.drain_timeout_sec)) draining_.push_back(std::move(it->second));
  ports_.erase(it);
}

void ForwardServer::schedule_expose_hold() {
  int64_t hold_ms = config_.expose_hold_sec * 1000LL;
  int64_t next = exposures_.next_expiry(hold_ms);
  if (next < 0) {
    expose_hold_timer_.reset();
    return;
  }
  if (!expose_hold_timer_) expose_hold_timer_.reset(evtimer_new(base_, expose_hold_cb, this));
  int64_t wait = std::max<int64_t>(0, next - loop_time_ms(base_));
  timeval tv{static_cast<time_t>(wait / 1000), static_cast<suseconds_t>((wait % 1000) * 1000)};
  evtimer_add(expose_hold_timer_.get(), &tv);
}

void ForwardServer::expose_hold_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<ForwardServer*>(arg);
  int64_t hold_ms = self->config_.expose_hold_sec * 1000LL;
  for (const Exposure& e : self->exposures_.expired(loop_time_ms(self->base_), hold_ms))
    self->release_exposure(e, "its client did not come back within EXPOSE_HOLD (" +
                                  std::to_string(self->config_.expose_hold_sec) + " s)");
  self->schedule_expose_hold();
}

void ForwardServer::exposure_clashes(const ServerConfig& nc, std::vector<std::string>& failures) const {
  for (const Exposure& e : exposures_.all()) {
    Mapping x = exposed_mapping(e);
    for (const Mapping& m : nc.mappings)
      if (mappings_overlap(m, x))
        failures.push_back(m.file + ":" + std::to_string(m.line) + ": public port " +
                           std::to_string(m.public_port) + proto_suffix(m.udp) + " is held by " +
                           e.owner + " (forward-client --expose " + x.target_name() +
                           "); the mapping is refused until that port is released");
  }
}

void ForwardServer::refresh_exposures() {
  std::vector<Exposure> all = exposures_.all();
  // Ports each owner keeps per grant: a lowered MAX_PORTS releases the
  // ones past it (the book's order: the oldest are kept).
  std::map<std::pair<std::string, std::string>, size_t> kept_per_grant;
  for (const Exposure& e : all) {
    const PortGrant* grant = nullptr;
    for (const PortGrant& g : config_.client_ports)
      if (!grant && g.key == e.grant && g.covers(e.port, e.udp)) grant = &g;
    if (!grant) {
      release_exposure(e, "a reload took its grant away ([CLIENT_PORTS] " + e.grant + ")");
      continue;
    }
    size_t& kept = kept_per_grant[{e.owner, e.grant}];
    if (grant->max_ports && kept >= static_cast<size_t>(grant->max_ports)) {
      release_exposure(e, "a reload lowered MAX_PORTS of grant " + e.grant + " to " +
                              std::to_string(grant->max_ports));
      continue;
    }
    ++kept;
    Mapping m = exposed_mapping(e);
    auto it = ports_.find(m.public_name());
    if (it != ports_.end()) it->second->set_mapping(m);  // new [RULES]
  }
}
