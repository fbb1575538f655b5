#include "config_warnings.h"

#include <sys/socket.h>

#include "address.h"

namespace {

// A listener is IPv4 or IPv6 only (IPv6 ones are bound IPV6_V6ONLY), so an
// ALLOW list without a network of its family refuses every peer it can get.
// Typical cause: "2222.ALLOW = 198.51.100.0/24" with 2222 also mapped on an
// IPv6 address; a rule key without an address covers every mapping of that
// port.
bool allow_excludes_family(const Mapping& m) {
  if (m.access.allow.empty()) return false;
  int family = address_family(m.bind_host);
  for (const Cidr& c : m.access.allow)
    if (c.family() == family) return false;
  return true;
}

}  // namespace

std::vector<ConfigError> config_warnings(const ServerConfig& c) {
  std::vector<ConfigError> out;
  for (const Mapping& m : c.mappings) {
    if (!allow_excludes_family(m)) continue;
    const char* family = address_family(m.bind_host) == AF_INET6 ? "IPv6" : "IPv4";
    out.push_back({m.file, m.line,
                   "mapping " + m.public_name() + " listens on " + family +
                       " but its ALLOW rules (" + m.access.str() + ") name no " + family +
                       " network, so every peer is refused (give the rule the mapping's "
                       "address, [RULES] " + m.public_name() + ".ALLOW = ..., or add " + family +
                       " networks)"});
  }
  return out;
}
