// [CLIENT_PORTS]: which public ports a client may take with forward-client
// --expose, and the book of ports clients hold. Pure: no I/O, no libevent;
// the server binds (server_expose.cc).
//
//   branch-office = 20000-20099, 5353/udp    a [CLIENTS] name
//   tag:dev = 21000-21999                    every client of tag dev
//   branch-office.MAX_PORTS = 5              ports one client holds through it
//
// A port below 1024 is granted only when named alone, never inside a range.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

struct PortRange {
  uint16_t lo = 0, hi = 0;
  bool udp = false;
  bool single = false;  // named alone ("22", "5353/udp"): may be below 1024
  bool covers(uint16_t port, bool is_udp) const;
};

struct PortGrant {
  std::string key;  // "branch-office" or "tag:dev"
  std::vector<PortRange> ranges;
  int max_ports = 0;  // MAX_PORTS; 0: only the ranges limit
  std::string file;
  int line = 0;
  bool covers(uint16_t port, bool udp) const;
  // Every port the grant gives for the protocol, ascending, no duplicates.
  std::vector<uint16_t> ports(bool udp) const;
};

// "20000-20099, 5353/udp, 22": false with err (the first bad item).
bool parse_port_ranges(const std::string& value, std::vector<PortRange>& out, std::string& err);

// Who asks: the client's [CLIENTS] name when it proved its own key ("" if
// not), and the tag of its channel.
struct ExposeAsker {
  std::string name;
  std::string tag;
};

// The server's answer before binding: refused (with a reason), or the
// grant and the ports to try, in order.
struct ExposePlan {
  bool ok = false;
  uint8_t result = 0;  // frame::ExposeResult when !ok
  std::string why;
  std::string grant;                 // key of the grant used
  std::vector<uint16_t> candidates;  // the wanted port alone, or the grant's free ports shuffled
};

class ClientPorts {
 public:
  ClientPorts() = default;
  explicit ClientPorts(std::vector<PortGrant> grants) : grants_(std::move(grants)) {}
  const std::vector<PortGrant>& grants() const { return grants_; }
  bool empty() const { return grants_.empty(); }
  // The grants that apply to asker: its name's, then its tag's.
  std::vector<const PortGrant*> grants_for(const ExposeAsker& asker) const;
  // May asker hold port (by any of its grants)?
  bool may_hold(const ExposeAsker& asker, uint16_t port, bool udp) const;
  // Plans an EXPOSE: wanted (0: any) must be granted; held(grant) is how
  // many ports asker holds through that grant now (MAX_PORTS); taken(port)
  // says a port is not free (a mapping or another client). The bind itself
  // may still fail: the server tries the candidates in order.
  template <class Held, class Taken>
  ExposePlan plan(const ExposeAsker& asker, bool udp, uint16_t wanted, Held held, Taken taken,
                  std::mt19937& rng) const;

 private:
  std::vector<PortGrant> grants_;
};

// The ports clients hold: one entry per exposed port, by owner (a client's
// "client NAME" or "session HEX"), with the time its owner went away (no
// channel up) for EXPOSE_HOLD.
struct Exposure {
  std::string owner;
  std::string grant;
  bool udp = false;
  bool http = false;
  uint16_t port = 0;
  std::string target_host;
  uint16_t target_port = 0;
  int64_t away_since_ms = -1;  // -1: a channel of its owner is up
};

class ExposureBook {
 public:
  // The entry owner already has for the same target (a reconnect asks
  // again): same protocol, mode and target, and wanted 0 or its port;
  // none of skip (ports with /udp the asking channel has already: two
  // SPECs with one target get two ports).
  const Exposure* same_request(const std::string& owner, const Exposure& want,
                               const std::set<std::pair<uint16_t, bool>>& skip = {}) const;
  const Exposure* holder(uint16_t port, bool udp) const;
  size_t count(const std::string& owner, const std::string& grant) const;
  void add(Exposure e) { entries_.push_back(std::move(e)); }
  void remove(uint16_t port, bool udp);
  // Owner's last channel went down at now_ms / a channel asked for the
  // port again (the ports it does not ask for go on expiring).
  void owner_away(const std::string& owner, int64_t now_ms);
  void back(uint16_t port, bool udp);
  // Entries whose owner has been away for hold_ms or more.
  std::vector<Exposure> expired(int64_t now_ms, int64_t hold_ms) const;
  // The earliest time an entry expires; -1 if none is away.
  int64_t next_expiry(int64_t hold_ms) const;
  std::vector<Exposure> of_owner(const std::string& owner) const;
  const std::vector<Exposure>& all() const { return entries_; }

 private:
  std::vector<Exposure> entries_;
};

// ---------------------------------------------------------------------------

template <class Held, class Taken>
ExposePlan ClientPorts::plan(const ExposeAsker& asker, bool udp, uint16_t wanted, Held held,
                             Taken taken, std::mt19937& rng) const {
  ExposePlan p;
  const char* proto = udp ? "/udp" : "";
  std::vector<const PortGrant*> mine = grants_for(asker);
  if (mine.empty()) {
    p.result = 1;  // not_granted
    p.why = "no [CLIENT_PORTS] grant for " +
            (asker.name.empty() ? "an unnamed client" : "client " + asker.name) + " (tag " +
            asker.tag + ")";
    return p;
  }
  bool any_granted = false, any_room = false;
  const PortGrant* full = nullptr;
  for (const PortGrant* g : mine) {
    bool covers = wanted ? g->covers(wanted, udp) : !g->ports(udp).empty();
    if (!covers) continue;
    any_granted = true;
    if (g->max_ports && held(g->key) >= static_cast<size_t>(g->max_ports)) {
      if (!full) full = g;
      continue;
    }
    any_room = true;
    if (wanted) {
      if (taken(wanted)) {
        p.result = 2;  // in_use
        p.why = "port " + std::to_string(wanted) + proto + " is in use";
        return p;
      }
      p.candidates = {wanted};
    } else {
      for (uint16_t port : g->ports(udp))
        if (!taken(port)) p.candidates.push_back(port);
      std::shuffle(p.candidates.begin(), p.candidates.end(), rng);
      if (p.candidates.empty()) {
        p.result = 2;
        p.why = "every port of grant " + g->key + proto + " is in use";
        continue;
      }
    }
    p.ok = true;
    p.grant = g->key;
    p.result = 0;
    p.why.clear();
    return p;
  }
  if (p.result == 2) return p;
  if (!any_granted) {
    p.result = 1;
    p.why = wanted ? "port " + std::to_string(wanted) + proto + " is not granted to this client"
                   : std::string("no ") + (udp ? "udp" : "tcp") + " ports are granted to this client";
  } else if (!any_room && full) {
    p.result = 3;  // max_ports
    p.why = "MAX_PORTS (" + std::to_string(full->max_ports) + ") of grant " + full->key + " reached";
  }
  return p;
}
