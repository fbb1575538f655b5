// The HTTP/1.x observer of an http mapping's stream ([MODE] PORT = http):
// it is shown every byte each way, as forwarded, and reports one record
// per request (method, path, status, response bytes, latency). Pure: no
// libevent, no sockets, the caller passes the time. Parsing is
// libhttp-parser's (http_parser.h); nothing here reads HTTP by hand.
//
// Contract:
//  - Requests and responses pair in order (HTTP/1.1 answers in order):
//    keep-alive and pipelining are a FIFO of pending requests, at most
//    kMaxPending deep. HEAD and 1xx/204/304 responses have no body; 1xx
//    other than 101 are interim and do not end the request. Bodies may be
//    sized, chunked, or end at the response side's EOF (response_eof()).
//  - Anything the parser rejects on either side (not HTTP, a header past
//    http_parser's HTTP_MAX_HEADER_SIZE, a response without a request, a
//    FIFO past kMaxPending) ends the observation for good: degraded()
//    says why, and no record comes any more. After an upgrade (101, or a
//    CONNECT) the stream is no longer HTTP: the observation ends quietly.
//  - The observer never changes or holds the bytes; the caller forwards
//    them whatever it says.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

struct HttpRecord {
  std::string method;       // "GET"
  std::string path;         // the request target, cut to kMaxPath bytes
  bool path_truncated = false;
  int status = 0;           // 0: the stream ended before the response did
  uint64_t bytes = 0;       // response bytes, headers included
  uint64_t latency_us = 0;  // request's first byte to response's last
};

// The part of a request's log line after the addresses, the same in both
// daemons: "GET /index.html" 200 1234 bytes 1.2 ms. Peer bytes in the path
// are escaped (address.h printable, '"' as %22); "..." marks a cut path;
// status 0 shows as "-".
std::string format_request(const std::string& method, const std::string& path, bool truncated,
                           int status, uint64_t bytes, uint64_t latency_us);

class HttpObserver {
 public:
  static constexpr size_t kMaxPath = 256;
  static constexpr size_t kMaxPending = 64;
  using Sink = std::function<void(const HttpRecord&)>;

  explicit HttpObserver(Sink sink);
  HttpObserver(const HttpObserver&) = delete;
  HttpObserver& operator=(const HttpObserver&) = delete;

  // Bytes from the client of the HTTP connection (the public peer).
  void request_bytes(const char* p, size_t n, uint64_t now_us);
  // Bytes from the HTTP server (the target).
  void response_bytes(const char* p, size_t n, uint64_t now_us);
  // The server's side ended: a response whose body runs to EOF is complete.
  void response_eof(uint64_t now_us);
  // The stream ended: requests still waiting (their headers complete) are
  // reported with status 0. Nothing is reported afterwards.
  void finish(uint64_t now_us);

  // Still reading HTTP (neither degraded nor past an upgrade nor finished).
  bool active() const { return state_ == State::active; }
  bool degraded() const { return state_ == State::degraded; }
  const std::string& why() const { return why_; }  // when degraded

 private:
  enum class State { active, upgraded, degraded, finished };
  struct Pending {
    HttpRecord record;
    uint64_t start_us = 0;
    bool headers_done = false;  // the request's headers are complete
    bool upgrade = false;       // Upgrade or CONNECT: after its response, no more HTTP
  };

  static const http_parser_settings& response_settings();
  static int on_req_begin(http_parser* p);
  static int on_req_url(http_parser* p, const char* at, size_t n);
  static int on_req_headers(http_parser* p);
  static int on_resp_begin(http_parser* p);
  static int on_resp_headers(http_parser* p);
  static int on_resp_complete(http_parser* p);

  void degrade(const std::string& why);
  // The front request got its final response: report it.
  void complete_front(uint64_t now_us);

  Sink sink_;
  State state_ = State::active;
  std::string why_;
  http_parser req_{};
  http_parser resp_{};
  bool req_upgraded_ = false;  // the request side switched protocols (Upgrade, CONNECT)
  std::deque<Pending> pending_;
  uint64_t now_us_ = 0;         // of the bytes being parsed
  uint64_t resp_bytes_ = 0;     // of the response in progress
  bool resp_done_ = false;      // on_resp_complete saw a final response
  std::string cb_error_;        // why a callback stopped the parser
};
