#include "client_ports.h"

#include <algorithm>

#include "address.h"

bool PortRange::covers(uint16_t port, bool is_udp) const {
  if (is_udp != udp || port < lo || port > hi) return false;
  return single || port >= 1024;
}

bool PortGrant::covers(uint16_t port, bool udp) const {
  for (const PortRange& r : ranges)
    if (r.covers(port, udp)) return true;
  return false;
}

std::vector<uint16_t> PortGrant::ports(bool udp) const {
  std::vector<uint16_t> out;
  for (const PortRange& r : ranges)
    for (uint32_t p = r.lo; p <= r.hi; ++p)
      if (r.covers(static_cast<uint16_t>(p), udp)) out.push_back(static_cast<uint16_t>(p));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool parse_port_ranges(const std::string& value, std::vector<PortRange>& out, std::string& err) {
  std::vector<PortRange> ranges;
  std::string item;
  for (size_t i = 0; i <= value.size(); ++i) {
    char c = i < value.size() ? value[i] : ',';
    if (c != ',') {
      if (c != ' ' && c != '\t') item += c;
      continue;
    }
    if (item.empty()) {
      if (i < value.size()) {
        err = "empty item in '" + printable(value, 80) + "'";
        return false;
      }
      continue;
    }
    PortRange r;
    std::string ports = item;
    size_t slash = ports.find('/');
    if (slash != std::string::npos) {
      std::string proto = ports.substr(slash + 1);
      ports.erase(slash);
      if (proto == "udp" || proto == "UDP")
        r.udp = true;
      else if (proto != "tcp" && proto != "TCP") {
        err = "bad protocol in '" + printable(item, 40) + "' (expected /tcp or /udp)";
        return false;
      }
    }
    size_t dash = ports.find('-');
    std::string lo = dash == std::string::npos ? ports : ports.substr(0, dash);
    std::string hi = dash == std::string::npos ? ports : ports.substr(dash + 1);
    if (!parse_port(lo, r.lo) || !parse_port(hi, r.hi)) {
      err = "bad port or range '" + printable(item, 40) + "' (expected PORT or LOW-HIGH, 1-65535)";
      return false;
    }
    if (r.lo > r.hi) {
      err = "bad range '" + printable(item, 40) + "' (LOW above HIGH)";
      return false;
    }
    r.single = dash == std::string::npos;
    if (!r.single && r.lo < 1024) {
      err = "range '" + printable(item, 40) +
            "' reaches below 1024: ports below 1024 are granted only one by one";
      return false;
    }
    ranges.push_back(r);
    item.clear();
  }
  if (ranges.empty()) {
    err = "expected ports or ranges, separated by commas (20000-20099, 5353/udp)";
    return false;
  }
  out = std::move(ranges);
  return true;
}

std::vector<const PortGrant*> ClientPorts::grants_for(const ExposeAsker& asker) const {
  std::vector<const PortGrant*> out;
  if (!asker.name.empty())
    for (const PortGrant& g : grants_)
      if (g.key == asker.name) out.push_back(&g);
  for (const PortGrant& g : grants_)
    if (g.key == "tag:" + asker.tag) out.push_back(&g);
  return out;
}

bool ClientPorts::may_hold(const ExposeAsker& asker, uint16_t port, bool udp) const {
  for (const PortGrant* g : grants_for(asker))
    if (g->covers(port, udp)) return true;
  return false;
}

const Exposure* ExposureBook::same_request(const std::string& owner, const Exposure& want,
                                          const std::set<std::pair<uint16_t, bool>>& skip) const {
  for (const Exposure& e : entries_)
    if (e.owner == owner && !skip.count({e.port, e.udp}) && e.udp == want.udp && e.http == want.http &&
        e.target_host == want.target_host && e.target_port == want.target_port &&
        (want.port == 0 || want.port == e.port))
      return &e;
  return nullptr;
}

const Exposure* ExposureBook::holder(uint16_t port, bool udp) const {
  for (const Exposure& e : entries_)
    if (e.port == port && e.udp == udp) return &e;
  return nullptr;
}

size_t ExposureBook::count(const std::string& owner, const std::string& grant) const {
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(), [&](const Exposure& e) {
    return e.owner == owner && e.grant == grant;
  }));
}

void ExposureBook::remove(uint16_t port, bool udp) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const Exposure& e) { return e.port == port && e.udp == udp; }),
                 entries_.end());
}

void ExposureBook::owner_away(const std::string& owner, int64_t now_ms) {
  for (Exposure& e : entries_)
    if (e.owner == owner && e.away_since_ms < 0) e.away_since_ms = now_ms;
}

void ExposureBook::back(uint16_t port, bool udp) {
  for (Exposure& e : entries_)
    if (e.port == port && e.udp == udp) e.away_since_ms = -1;
}

std::vector<Exposure> ExposureBook::expired(int64_t now_ms, int64_t hold_ms) const {
  std::vector<Exposure> out;
  for (const Exposure& e : entries_)
    if (e.away_since_ms >= 0 && now_ms - e.away_since_ms >= hold_ms) out.push_back(e);
  return out;
}

int64_t ExposureBook::next_expiry(int64_t hold_ms) const {
  int64_t next = -1;
  for (const Exposure& e : entries_)
    if (e.away_since_ms >= 0 && (next < 0 || e.away_since_ms + hold_ms < next))
      next = e.away_since_ms + hold_ms;
  return next;
}

std::vector<Exposure> ExposureBook::of_owner(const std::string& owner) const {
  std::vector<Exposure> out;
  for (const Exposure& e : entries_)
    if (e.owner == owner) out.push_back(e);
  return out;
}
