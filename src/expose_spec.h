// forward-client --expose SPEC: what the client asks a server to expose.
// SPEC = [tcp:|udp:|http:][PUBLIC_PORT=]TARGET, TARGET = PORT (on
// 127.0.0.1) or HOST:PORT. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>

struct ExposeSpec {
  std::string text;  // as given, for messages
  bool udp = false;
  bool http = false;         // http: a TCP port whose requests the server logs
  uint16_t public_port = 0;  // 0: the server picks
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string target_name() const;  // "127.0.0.1:8080", "[::1]:22"
  std::string scheme() const { return udp ? "udp" : http ? "http" : "tcp"; }
  // The server's public address as the client shows it: "tcp://HOST:PORT".
  std::string url(const std::string& server_host, uint16_t given_port) const;
};

// false with err ("bad SPEC 'x:': ...") when SPEC is malformed.
bool parse_expose_spec(const std::string& spec, ExposeSpec& out, std::string& err);
