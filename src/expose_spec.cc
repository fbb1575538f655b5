#include "expose_spec.h"

#include "address.h"

std::string ExposeSpec::target_name() const { return format_host_port(host, port); }

std::string ExposeSpec::url(const std::string& server_host, uint16_t given_port) const {
  return scheme() + "://" + format_host_port(server_host, given_port);
}

bool parse_expose_spec(const std::string& spec, ExposeSpec& out, std::string& err) {
  ExposeSpec s;
  s.text = spec;
  auto fail = [&](const std::string& why) {
    err = "bad SPEC '" + printable(spec, 80) + "': " + why +
          " (expected [tcp:|udp:|http:][PUBLIC_PORT=]PORT or HOST:PORT)";
    return false;
  };
  std::string rest = spec;
  for (const char* scheme : {"tcp:", "udp:", "http:"}) {
    std::string p = scheme;
    if (rest.compare(0, p.size(), p) != 0) continue;
    // "tcp:8080" is a scheme, but "tcp:" alone or a host named "udp" is not
    // told apart: the scheme is always taken.
    s.udp = p == "udp:";
    s.http = p == "http:";
    rest.erase(0, p.size());
    break;
  }
  size_t eq = rest.find('=');
  if (eq != std::string::npos) {
    std::string pub = rest.substr(0, eq);
    rest.erase(0, eq + 1);
    if (pub == "0") {
      s.public_port = 0;
    } else if (!parse_port(pub, s.public_port)) {
      return fail("bad public port '" + printable(pub, 20) + "' (1-65535, or 0: the server picks)");
    }
  }
  if (rest.empty()) return fail("no target");
  HostPort hp;
  std::string why;
  if (!parse_host_port(rest, false, hp, why)) return fail("bad target: " + why);
  if (!hp.host.empty()) s.host = hp.host;
  s.port = hp.port;
  out = s;
  return true;
}
