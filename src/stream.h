// One forwarded TCP connection inside a tunnel: the local socket (public
// peer on the server, inner target on the client) pumped to and from the
// channel with per-stream credit, and TCP half-close carried as EOF frames.
//
// Directions are tracked separately (OpenSSH nchan.c style):
//   local -> channel:  reading, until local EOF; then EOF is sent once the
//                      read-ahead has been sent (it may wait for credit).
//   channel -> local:  writing, until the peer's EOF; then shutdown(SHUT_WR)
//                      once the output buffer has drained.
// The stream is finished when EOF went both ways and the output is flushed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "buffer_budget.h"
#include "channel.h"
#include "ev.h"
#include "flow.h"
#include "frame.h"
#include "half.h"
#include "http_log.h"
#include "rate_limit.h"
#include "reaper.h"
#include "socket_io.h"
#include "target_resolver.h"
#include "traffic_counters.h"
#include "window_tuner.h"

namespace metrics {
class Histogram;
}

class Tunnel;

// Client side: what all the client's streams share (ForwardClient owns it
// and outlives its streams).
struct TargetContext {
  evdns_base* dns = nullptr;
  const TargetPolicy* policy = nullptr;  // --allow
  int connect_timeout_sec = 10;
  BufferBudget* pending = nullptr;  // early data held while targets connect (reserve())
  // A warning the server can trigger at will: the owner rate-limits it.
  std::function<void(const std::string&)> warn_limit;
  // Metrics: every stream's bytes and failures, and the time from OPEN to
  // a connected target (optional).
  std::shared_ptr<TrafficCounters> counters;
  metrics::Histogram* connect_seconds = nullptr;
};

class Stream final : public Channel, private SocketIo::Owner, private BufferBudget::Waiter {
 public:
  enum class State { opening, open, done };

  // label names the stream in log lines (mapping, peer, target).
  Stream(Tunnel& tunnel, uint32_t id, BufferEventPtr local, std::string label);
  ~Stream() override;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Server side: what forward-ctl streams shows (the mapping's public
  // address and the public peer).
  void set_origin(std::string mapping, std::string peer) {
    mapping_name_ = std::move(mapping);
    peer_name_ = std::move(peer);
  }
  const std::string& mapping_name() const { return mapping_name_; }
  // Server side, an http mapping ([MODE]): log one line per HTTP request
  // (and send it to the client as REQUEST if it asked for them). Call
  // after set_origin.
  void observe_http();
  const std::string& peer_name() const { return peer_name_; }
  uint64_t bytes_from_local() const { return bytes_to_peer_; }
  uint64_t bytes_to_local() const { return bytes_from_peer_; }
  double age_sec() const;
  // Where the stream adds its bytes as they move, and its open failures.
  void set_counters(std::shared_ptr<TrafficCounters> c) { counters_ = std::move(c); }
  // Something to let go of when the stream ends (a connection count).
  void set_lease(std::shared_ptr<void> lease) { lease_ = std::move(lease); }
  // Server side: RATE_LIMIT of its mapping and client. Reads from the
  // public peer and credit to the client then go no faster than they allow.
  void set_rate_limits(RateLimits limits);
  State state() const { return state_; }

  // Server side: ask the client to connect host:port (and to send the
  // target a PROXY protocol header first, when proxy.version is set).
  void request_open(const std::string& host, uint16_t port, const frame::ProxyBlock& proxy = {});
  bool on_open_ok(uint32_t window, uint32_t connect_us, std::string& err) override;
  bool on_open_fail(const frame::Failure& f, std::string& err) override;

  // Client side: resolve and connect the target, then answer OPEN_OK or
  // OPEN_FAIL. Until OPEN_OK the server may send only the early window.
  void connect_target(const TargetContext& ctx, const std::string& host, uint16_t port,
                      uint32_t send_window);
  // Client side, before connect_target: bytes the target gets first, in the
  // first write, ahead of any relayed byte (a PROXY protocol header). They
  // count against no window.
  void send_first(const std::string& bytes);

  // Frames from the peer. false (with err) means a protocol violation that
  // must close the whole channel.
  bool on_data(evbuffer* src, size_t n, std::string& err) override;
  bool on_eof(std::string& err) override;
  bool on_window(uint32_t increment, std::string& err) override;
  void on_reset(const frame::Failure& f) override;

  // The channel is gone: RST the local peer, send nothing.
  void abort(const std::string& reason) override;
  // Give up on a live stream: RESET to the peer, RST to the local socket.
  void reset(const std::string& reason) override;

  // Local input waits here (the bufferevent's input) until the channel's
  // scheduler gives the stream a turn. pump() asks for one while there are
  // bytes, credit and rate, sends EOF once all bytes left, and reads the
  // socket while credit and the bound on pending bytes allow; called on
  // local reads, credit, rate and open.
  void pump();
  // The stream's turn (Tunnel::fill): one DATA frame of at most allowance
  // bytes. Returns the bytes sent; more: it could send another frame now.
  size_t emit(size_t allowance, bool& more);
  // One debug line with the stream's flow-control state: what it may send,
  // what it owes, what it holds each way, and what it waits for (the
  // status signal asks for it, to tell where a stream that stopped waits).
  void log_flow() const;

 private:
  static void event_cb(bufferevent*, short what, void* arg) noexcept;
  static void output_cb(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept;
  static void open_timeout_cb(evutil_socket_t, short, void* arg) noexcept;
  static void rate_timer_cb(evutil_socket_t, short, void* arg) noexcept;
  // What the rate limits let go now in one direction (up: to the channel);
  // 0 arms the timer that calls pump() and return_credit() again.
  size_t rate_allowance(bool up, size_t want);
  void budget_available() override;
  // Sends the WINDOW credit owed, unless MAX_BUFFERED_BYTES holds it back.
  void return_credit(bool flush);
  // n more bytes were delivered: grows the receive window when the stream
  // delivers most of it per round trip (window_tuner.h).
  void tune_window(size_t n);

  void on_readable() override;
  void on_written() override;
  void on_write_error(int err) override;
  // Once the socket is connected: reads and writes are ours (io_), the
  // bufferevent only holds the buffers.
  void take_over_io();
  // Why a target could not be connected; exactly one field says it.
  struct ConnectError {
    bool timeout = false;
    int sock_err = 0;  // errno value
    int dns_err = 0;   // getaddrinfo code
  };
  void on_connect_event(short what);
  void on_local_eof();
  void on_local_error(int err);
  void on_resolved(const std::string& host, uint16_t port, const ResolvedTarget& r);
  void on_target_connected();
  void on_target_failed(const ConnectError& e);
  // Early data held for the target is no longer pending (connected or gone).
  void release_pending();
  // Shows an http mapping's observer n bytes at the front of b (request:
  // from the public peer); drops it once it no longer reads HTTP.
  void feed_http(evbuffer* b, size_t n, bool request);
  void http_done();
  void log_request(const HttpRecord& r);
  void on_output_drained(size_t n);
  void become_open();
  // Open, or a server stream still opening but allowed early data.
  bool can_send() const { return state_ == State::open || (state_ == State::opening && early_); }
  void set_reading(bool on);
  // After bytes left or arrived: EOF once the input is all sent, else
  // reading on or off (credit, rate, the bound on pending bytes).
  void settle(bool rate_limited);
  // Whether the stream could send a frame now (arms the rate timer if the
  // rate limit is what stops it).
  bool sendable(bool& rate_limited);
  void maybe_shutdown_write();
  void maybe_finish();
  // Single exit: logs one line, frees the socket (RST if abortive), hands
  // the object to the reaper. Idempotent.
  void finish(const std::string& reason, bool abortive, bool send_reset,
              frame::Reason reset_reason = frame::Reason::other);

  BufferEventPtr local_;  // buffers, and the client's connect
  std::optional<SocketIo> io_;  // once connected (socket_io.h); in place: one allocation less
  EventPtr open_timer_;           // server: OPEN_TIMEOUT while opening
  RateLimits rate_;               // server: RATE_LIMIT (empty: none)
  EventPtr rate_timer_;           // while a limit holds bytes or credit back
  evbuffer_cb_entry* output_cb_entry_ = nullptr;
  std::string label_;
  State state_ = State::opening;
  SendCredit send_;
  RecvWindow recv_;
  WindowTuner tuner_;
  bool reading_ = false;
  bool connecting_ = false;  // client side: connect() to the target in progress
  bool early_ = false;       // server side: may send kEarlyWindow bytes before OPEN_OK
  Half in_{"input"};    // local -> channel: draining after the local EOF, closed once EOF is sent
  Half out_{"output"};  // channel -> local: draining after the peer's EOF, closed at SHUT_WR
  const TargetContext* targets_ = nullptr;  // client side
  TargetResolution resolution_;             // client side, while resolving
  size_t pending_ = 0;  // client: early data counted in targets_->pending
  size_t first_left_ = 0;  // client: send_first() bytes not yet written
  uint64_t bytes_to_peer_ = 0;    // local -> channel
  uint64_t bytes_from_peer_ = 0;  // channel -> local
  std::chrono::steady_clock::time_point started_;
  std::shared_ptr<void> lease_;
  std::shared_ptr<TrafficCounters> counters_;  // metrics (traffic_counters.h)
  std::string mapping_name_, peer_name_;  // server side
  std::unique_ptr<HttpObserver> http_;     // server side, http mappings, while it reads HTTP
};
