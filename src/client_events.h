// What forward-client's console (console.h) is told as it happens: the
// channel, exposed ports, and the HTTP requests the server reports. The
// client calls these from the loop; the default does nothing, so the
// client runs the same with no console.
#pragma once

#include <cstdint>
#include <string>

// One HTTP/1.x request on a stream of an http mapping, as the server saw
// it (a REQUEST frame, docs/PROTOCOL.md).
struct RequestRecord {
  std::string method;
  std::string path;         // truncated by the server
  int status = 0;           // 0: no response (the stream ended first)
  uint64_t bytes = 0;       // response bytes, headers included
  uint64_t latency_us = 0;  // request's first byte to response's last
  std::string peer;         // public peer "ADDR:PORT"
  std::string mapping;      // public port it came in on ("0.0.0.0:20001")
};

class ClientEvents {
 public:
  virtual ~ClientEvents() = default;
  // server: "HOST:PORT" as given on the command line; tls: ", TLSv1.3 ..." or "".
  virtual void channel_up(const std::string& /*server*/, const std::string& /*tls*/) {}
  // A channel closed, or an attempt failed before there was one; why: the
  // reason the log gives ("heartbeat timeout", "cannot connect: ...").
  virtual void channel_down(const std::string& /*server*/, const std::string& /*why*/) {}
  // An --expose SPEC granted: url "tcp://HOST:20001", target "127.0.0.1:8080".
  virtual void exposed(const std::string& /*spec*/, const std::string& /*url*/,
                       const std::string& /*target*/) {}
  // An --expose SPEC refused, with the server's reason.
  virtual void expose_refused(const std::string& /*spec*/, const std::string& /*why*/) {}
  virtual void request(const RequestRecord& /*r*/) {}
};
