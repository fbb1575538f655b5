// libFuzzer target for access rules (src/access.{h,cc}).
//
// The input's first line is parsed as a CIDR, a CIDR list and a --allow
// target rule; the second line (if any) is a target host checked against the
// rule at its port bounds. Whatever parses must print back to text that
// parses to the same value, and must match the addresses it names.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "access.h"
#include "address.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  fprintf(stderr, "access_fuzz: invariant broken: %s: %s\n", what, printable(detail).c_str());
  abort();
}

bool mentions(const std::string& err, const std::string& text) {
  return err.find("'" + printable(text) + "'") != std::string::npos;
}

// The network address of c as a sockaddr.
sockaddr_storage network_sockaddr(const Cidr& c) {
  sockaddr_storage ss = {};
  std::string s = c.str();
  s = s.substr(0, s.find('/'));
  socklen_t len;
  if (!ip_literal_to_sockaddr(s, 1, ss, len)) fail("Cidr::str() is not an address", s);
  return ss;
}

void check_cidr(const std::string& text) {
  Cidr c;
  std::string err;
  if (!Cidr::parse(text, c, err)) {
    if (!mentions(err, text)) fail("Cidr error does not quote the input", err);
    return;
  }
  Cidr again;
  if (!Cidr::parse(c.str(), again, err) || again != c) fail("Cidr does not round-trip", text);
  sockaddr_storage ss = network_sockaddr(c);
  if (!c.matches(reinterpret_cast<sockaddr*>(&ss))) fail("Cidr does not match its network", text);
  std::string lit = c.str().substr(0, c.str().find('/'));
  if (!c.matches(lit)) fail("Cidr does not match its network literal", text);
}

void check_list(const std::string& text) {
  std::vector<Cidr> out;
  std::vector<std::string> errors;
  bool ok = parse_cidr_list(text, out, errors);
  if (ok != errors.empty()) fail("parse_cidr_list result disagrees with errors", text);
  AccessList acl;
  acl.allow = out;
  for (const Cidr& c : out) {
    sockaddr_storage ss = network_sockaddr(c);
    if (!acl.permits(reinterpret_cast<sockaddr*>(&ss))) fail("allow list refuses its own network", text);
  }
  acl.deny = out;
  for (const Cidr& c : out) {
    sockaddr_storage ss = network_sockaddr(c);
    if (acl.permits(reinterpret_cast<sockaddr*>(&ss))) fail("deny did not win", text);
  }
}

void check_rule(const std::string& text, const std::string& host) {
  TargetRule r;
  std::string err;
  if (!TargetRule::parse(text, r, err)) {
    if (!mentions(err, text)) fail("TargetRule error does not quote the input", err);
    TargetPolicy p;
    if (p.add(text, err)) fail("TargetPolicy::add accepted what parse refused", text);
    if (!p.permits(host, 1)) fail("an empty policy refused a target", host);
    return;
  }
  if (r.port_min == 0 || r.port_min > r.port_max) fail("bad port range", text);
  TargetRule again;
  if (!TargetRule::parse(r.str(), again, err) || again.str() != r.str())
    fail("TargetRule does not round-trip", text);

  // The rule matches what it names, at both port bounds, and not outside.
  std::string own;
  switch (r.kind) {
    case TargetRule::Kind::network: {
      own = r.network.str();
      own = own.substr(0, own.find('/'));
      break;
    }
    case TargetRule::Kind::name: own = r.name; break;
    case TargetRule::Kind::name_suffix: own = "x" + r.name; break;
  }
  if (!r.matches(own, r.port_min) || !r.matches(own, r.port_max)) fail("rule misses its own target", text);
  if (r.port_min > 1 && r.matches(own, static_cast<uint16_t>(r.port_min - 1))) fail("port below range matched", text);
  if (r.port_max < 65535 && r.matches(own, static_cast<uint16_t>(r.port_max + 1))) fail("port above range matched", text);

  TargetPolicy p;
  if (!p.add(text, err)) fail("TargetPolicy::add refused what parse accepted", text);
  for (uint16_t port : {r.port_min, r.port_max, static_cast<uint16_t>(r.port_max + 1)}) {
    if (p.permits(host, port) != r.matches(host, port)) fail("policy and rule disagree", host);
  }
  // A name rule never matches an IP literal, a network rule never a name.
  in6_addr scratch;
  bool literal = inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
                 inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
  if (host.find('\0') != std::string::npos) literal = false;
  bool hit = r.matches(host, r.port_min);
  if (hit && literal != (r.kind == TargetRule::Kind::network)) fail("rule matched the wrong kind of host", host);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t nl = input.find('\n');
  std::string first = input.substr(0, nl);
  std::string second = nl == std::string::npos ? first : input.substr(nl + 1);
  check_cidr(first);
  check_rule(first, second);
  check_list(input);
  return 0;
}
