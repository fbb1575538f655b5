// Access rules: CIDR blocks, allow/deny lists for public peers, and the
// client's --allow target policy. Pure: no I/O, no DNS, no libevent.
//
// Addresses are compared by family. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d), whether a peer's sockaddr, a target the server names or a
// rule, is treated as the IPv4 address a.b.c.d: a peer reaching a dual-stack
// listener as ::ffff:10.0.0.1 is matched by 10.0.0.0/8 and cannot slip past
// an IPv4 deny rule. So an IPv6 rule such as ::/0 matches only real IPv6
// addresses, and IPv4 ones need 0.0.0.0/0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/socket.h>

// An IPv4 or IPv6 network.
//
// Accepted text: "10.0.0.0/8", "192.168.1.5" (= /32), "fd00::/64", "::1"
// (= /128), and for IPv6 also brackets, "[fd00::]/64" and "[fd00::/64]".
// IPv4 must be four decimal octets (inet_pton: no "10.1", no 0x or octal).
// The prefix is decimal, 0-32 or 0-128, without leading zeros. Host bits
// after the prefix are allowed and cleared: "10.1.2.3/8" is 10.0.0.0/8.
// IPv6 zone ids ("fe80::1%eth0") are refused: a rule cannot name an
// interface. "::ffff:10.0.0.0/104" is stored as the IPv4 rule 10.0.0.0/8.
class Cidr {
 public:
  // Parses text into out; on failure returns false, leaves out alone and
  // sets err to a message that quotes text.
  static bool parse(const std::string& text, Cidr& out, std::string& err);

  // True if sa is an AF_INET or AF_INET6 address inside this network.
  // Any other family, or nullptr, never matches.
  bool matches(const sockaddr* sa) const;
  // Same for an IP literal ("10.0.0.5", "fd00::5"); false if not a literal.
  bool matches(const std::string& ip_literal) const;

  int family() const { return family_; }  // AF_INET, AF_INET6 (AF_UNSPEC if never parsed)
  unsigned prefix() const { return prefix_; }
  std::string str() const;  // "10.0.0.0/8", "fd00::/64"; a single address without /32 or /128

  bool operator==(const Cidr& o) const;
  bool operator!=(const Cidr& o) const { return !(*this == o); }

 private:
  friend struct TargetRule;
  // parse() without the "bad address 'TEXT': " prefix on the reason.
  static bool parse_reason(const std::string& text, Cidr& out, std::string& why);
  bool matches_bytes(int family, const uint8_t* addr) const;

  int family_ = AF_UNSPEC;  // default-constructed: matches nothing
  unsigned prefix_ = 0;
  uint8_t addr_[16] = {};  // network address, host bits zero; IPv4 uses 4 bytes
};

// Parses a list of CIDRs separated by commas and/or whitespace, appending
// each to out. Empty text (or only separators) is an empty list. Every bad
// token yields one message in errors, naming the token; returns errors'
// emptiness for this call (good tokens are appended either way).
bool parse_cidr_list(const std::string& text, std::vector<Cidr>& out,
                     std::vector<std::string>& errors);

// Who may connect to a public port, with rinetd's semantics:
//   - an address matched by any deny rule is refused (deny wins);
//   - otherwise, with an empty allow list everything is permitted;
//   - otherwise only addresses matched by an allow rule are permitted.
// An address that is neither IPv4 nor IPv6 (or nullptr) matches no rule: it
// is permitted only when both lists are empty (nullptr never).
struct AccessList {
  std::vector<Cidr> allow;
  std::vector<Cidr> deny;

  bool empty() const { return allow.empty() && deny.empty(); }
  bool permits(const sockaddr* sa) const;
  std::string str() const;  // "allow 10.0.0.0/8 ::1/128; deny 10.9.0.0/16", or "all"
};

// "loopback" (127.0.0.0/8, ::1), "link-local" (169.254.0.0/16, fe80::/10),
// "unspecified" (0.0.0.0, ::), IPv4-mapped forms included; nullptr for any
// other address. These reach the client's own host or its cloud metadata
// service (169.254.169.254), never a normal inner target.
const char* local_address_kind(const sockaddr* sa);

// One client --allow TARGET value. Forms:
//   10.0.0.0/8  10.0.0.5  fd00::/64       network or address, any port
//   10.0.0.5:22  10.0.0.0/24:8000-9000    with a port or an inclusive range
//   [fd00::/64]:22  [fd00::5]:1-1024      IPv6 with a port needs brackets
//   db.internal  db.internal:5432         host name (case-insensitive, exact)
//   *.corp.example  *.corp.example:443    any name ending in .corp.example,
//                                         at any depth, but not corp.example
// An unbracketed IPv6 value never carries a port ("fd00::5:22" is the
// address fd00::5:22). A trailing dot on a name is ignored. Ports are 1-65535;
// a range must not be reversed. Bare "*" and numeric names that are not
// dotted-quad IPv4 ("10.1", "0x7f.1", "012.0.0.1") are refused as ambiguous.
struct TargetRule {
  enum class Kind { network, name, name_suffix };

  static bool parse(const std::string& text, TargetRule& out, std::string& err);

  // host is what the server sent in OPEN: an IP literal is matched by
  // network rules only; a host name by name rules only.
  bool matches(const std::string& host, uint16_t port) const;
  std::string str() const;  // canonical form, e.g. "[fd00::/64]:22"

  Kind kind = Kind::network;
  Cidr network;       // Kind::network
  std::string name;   // lower case, no trailing dot; for name_suffix ".corp.example"
  uint16_t port_min = 1;
  uint16_t port_max = 65535;
};

// The client's set of --allow rules. Empty (no --allow given) permits every
// target: the client then trusts its server fully. Otherwise a target is
// permitted if any rule matches it. A host that is neither an IP literal nor
// a valid host name (NUL, spaces, "[::1]", zone ids, inet_aton-only numeric
// forms such as "0x7f.1") is refused by a non-empty policy.
class TargetPolicy {
 public:
  // Adds one --allow value; false with err (naming the value) if malformed.
  bool add(const std::string& text, std::string& err);

  bool empty() const { return rules_.empty(); }
  bool permits(const std::string& host, uint16_t port) const;
  // Second check, once a host that permits() let through has resolved to
  // sa. A name rule admits a name, not whatever its DNS answer says: a name
  // that resolves to a loopback, link-local or unspecified address
  // (local_address_kind) is refused unless a network rule also permits
  // that address and port. An empty policy and IP-literal hosts (already
  // matched by address) permit every sa.
  bool permits_resolved(const std::string& host, const sockaddr* sa, uint16_t port) const;
  const std::vector<TargetRule>& rules() const { return rules_; }
  std::string str() const;  // "10.0.0.0/8, db.internal:5432", or "any target"

 private:
  std::vector<TargetRule> rules_;
};
