// One client<->server channel: speaks the frame protocol (docs/PROTOCOL.md)
// over its Transport (transport.h), and owns the streams multiplexed on it.
// The handshake (handshake.h) and the keepalive (heartbeat.h) are its parts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth.h"
#include "buffer_budget.h"
#include "channel_policy.h"
#include "channel.h"
#include "ev.h"
#include "frame.h"
#include "frame_scheduler.h"
#include "handshake.h"
#include "heartbeat.h"
#include "log.h"
#include "reaper.h"
#include "rtt_probe.h"
#include "transport.h"
#include "window_tuner.h"

class Stream;
class Tunnel;

// The life of a tunnel, told to its owner (ForwardServer, ForwardClient).
class TunnelHandler {
 public:
  virtual void tunnel_up(Tunnel& t) = 0;
  // The tunnel has closed and aborted its channels; the handler buries it.
  virtual void tunnel_closed(Tunnel& t) = 0;
  // Server side: the peer has authenticated (or AUTH = none); false with
  // why refuses the channel (CLOSE with the reason) before it comes up.
  virtual bool admit_channel(Tunnel&, std::string&) { return true; }
  // forward-client --expose, on channels that agreed on kHelloFlagExpose:
  // the server is asked for a port (it answers with EXPOSE_REPLY), the
  // client gets the answer.
  virtual void expose_requested(Tunnel&, const frame::Expose&) {}
  virtual void expose_replied(Tunnel&, const frame::ExposeReply&) {}

 protected:
  ~TunnelHandler() = default;
};

// Client side only: opens what the server asks for (OPEN, UDP_OPEN) and
// puts it into the tunnel's table. A tunnel without one refuses both.
class ChannelOpener {
 public:
  virtual void open_requested(Tunnel& t, uint32_t id, const frame::Open& open) = 0;
  virtual void udp_open_requested(Tunnel& t, uint32_t id, const frame::UdpOpen& open) = 0;
  // A REQUEST frame: the server saw this HTTP request on stream id (which
  // may have closed here since). Only on channels that agreed
  // kHelloFlagRequests.
  virtual void request_reported(Tunnel&, uint32_t /*id*/, const frame::Request&) {}

 protected:
  ~ChannelOpener() = default;
};

struct TunnelLimits {
  // Receive window per stream at its start: what a bulk stream has in
  // flight, and so what an interactive frame may wait behind; smaller
  // windows cost loopback throughput (docs/ARCHITECTURE.md "Sending").
  // Auto-tuning grows it where the path needs.
  uint32_t stream_window = 512u << 10;
  // Window auto-tuning (window_tuner.h): how far one stream's window may
  // grow, and how much all the streams of one channel may grow together.
  // stream_window_max <= stream_window turns it off.
  uint32_t stream_window_max = 32u << 20;
  uint64_t window_growth_total = 64u << 20;
  // DATA waits in its stream (Stream::emit) and enters the channel's
  // output only while less than channel_fill is queued there, one frame per
  // turn of the streams (frame_scheduler.h); control frames and datagrams
  // are queued at once. The kernel keeps little more unsent
  // (TCP_NOTSENT_LOWAT, transport.cc).
  size_t channel_fill = 64u << 10;
  size_t data_quantum = 64u << 10;  // bytes per stream per turn
  // Queued control frames and datagrams past this: PINGs go unanswered, and
  // datagrams are dropped past twice this.
  size_t channel_high = 1u << 20;
  int handshake_timeout_sec = 5;  // TLS + HELLO + AUTH must complete in this time
  int heartbeat_sec = 10;         // PING every this often; dead after 3 silent intervals; 0: off
  // A peer that does not read: past channel_high no PING is answered, and
  // past this much queued output the channel is closed.
  size_t channel_hard_cap = 16u << 20;
  int open_timeout_sec = 0;          // server: OPEN_TIMEOUT; 0: wait for the client forever
  BufferBudget* budget = nullptr;    // MAX_BUFFERED_BYTES for every stream; not owned
};

struct TunnelOptions {
  AuthSettingsPtr auth;
  TunnelLimits limits;
  SessionId session{};   // client: sent in HELLO
  std::string tag;       // client: sent in HELLO
  ChannelOpener* opener = nullptr;  // client: serves OPEN and UDP_OPEN; not owned
  // frame::kHelloFeatures bits: the client asks for them, the server offers them.
  uint8_t features = 0;
};

class Tunnel : public Disposable,
               private Transport::Owner,
               private Handshake::Link,
               private HeartbeatTimer::Owner {
 public:
  // tls: bev is an OpenSSL bufferevent (it reads and writes for us);
  // otherwise a socket bufferevent used for its buffers only.
  Tunnel(BufferEventPtr bev, bool tls, frame::Role role, std::string peer, TunnelHandler& handler,
         Reaper& reaper, TunnelOptions options);
  ~Tunnel() override;
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Sends our HELLO (client first) and starts the handshake timer.
  void start();
  // Up and not on its way out (a refused or revoked channel that flushes
  // its CLOSE is neither up nor closed).
  bool up() const { return state_ == State::up && !closing_; }
  bool closed() const { return state_ == State::closed; }
  const std::string& peer() const { return peer_; }
  // The peer's address without the port ("" unless set): what per-source
  // limits count by. The accepting side sets it once, from the sockaddr.
  const std::string& source() const { return source_; }
  void set_source(std::string source) { source_ = std::move(source); }
  // Server: the name the client authenticated with ("" if none).
  const std::string& client_name() const { return handshake_.client_name(); }
  // Server: who the channel authenticated as (name, and whether by its own
  // [CLIENTS] key), and the key that proved it (nullptr without AUTH).
  ChannelIdentity identity() const { return ChannelIdentity{client_name(), handshake_.named()}; }
  const Key* proven_key() const {
    return handshake_.proven_key().empty() ? nullptr : &handshake_.proven_key();
  }
  // Server: what the client announced in its HELLO.
  const SessionId& peer_session() const { return handshake_.peer_session(); }
  const std::string& peer_tag() const { return handshake_.peer_tag(); }
  // Server: the client can write PROXY protocol headers (HELLO flag).
  bool peer_proxy() const { return handshake_.peer_proxy(); }
  // Both: a feature (frame::kHelloFlagExpose, ...) both HELLOs set.
  bool has_feature(uint8_t flag) const { return handshake_.agreed_features() & flag; }
  // Client: the server closed the connection (EOF or reset) before its
  // HELLO came: what a server that refuses our HELLO's flags does.
  bool lost_before_peer_hello() const { return lost_before_peer_hello_; }
  // OPEN_OK carries the connect time: sent by a client (which announces
  // kHelloFlagProxy), accepted by a server from such a client.
  bool open_ok_with_time() const {
    return role_ == frame::Role::client || handshake_.peer_proxy();
  }
  // Server: the PROXY v2 unique id of stream id, unique across channels:
  // the client's session and this channel's nonce (4 bytes each, in hex),
  // then the id ("3fa2c901.77d0e1aa.17").
  std::string unique_stream_id(uint32_t id) const;
  // The channel's round trip from its last answered PING, in ms (-1: none yet).
  int64_t rtt_ms() const { return heartbeat_.rtt_ms(); }
  // The round trip the streams' data sees (BDP probes, rtt_probe.h), in
  // microseconds (-1: none yet).
  int64_t data_rtt_us() const { return probe_.srtt_us(); }
  // The least of those round trips: the path without queues.
  int64_t path_rtt_us() const { return probe_.min_rtt_us(); }
  // Window auto-tuning is on (TunnelLimits::stream_window_max): BDP probes
  // go out.
  bool windows_grow() const {
    return options_.limits.stream_window_max > options_.limits.stream_window;
  }
  // What the streams' windows may grow by together (window_tuner.h).
  WindowPool& window_pool() { return window_pool_; }
  // When the handshake completed (wall clock, seconds since the epoch; 0 before).
  int64_t up_since() const { return up_since_; }
  // Bytes of DATA payload moved each way, for status lines.
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  // Resets every channel whose owner tag is `owner` (a removed mapping).
  size_t abort_channels_owned_by(const void* owner, const std::string& reason);
  event_base* base() const;
  Reaper& reaper() { return reaper_; }
  const TunnelLimits& limits() const { return options_.limits; }
  // ", TLSv1.3 TLS_AES_128_GCM_SHA256" on TLS channels, "" on plain ones.
  std::string tls_summary() const;

  // Idempotent single exit: logs the reason, aborts every stream, tells
  // the handler.
  void close(const std::string& reason, LogLevel level = LogLevel::notice);
  // Why it closed ("" while open): what close() logged.
  const std::string& close_reason() const { return close_reason_; }
  // Tells the peer why (a CLOSE frame), then closes once that is written
  // (TLS: at most a second later). The reason is logged as close() does.
  // text goes to the peer; log_reason (default: text) to our log.
  void close_with_notice(frame::Reason code, const std::string& text,
                         const std::string& log_reason = "", LogLevel level = LogLevel::warning);

  void send_control(frame::Type type, uint32_t stream, const std::string& payload);
  // OPEN_FAIL or RESET with a reason and text.
  void send_failure(frame::Type type, uint32_t stream, frame::Reason reason,
                    const std::string& text);
  // Moves n bytes from src into one DATA frame (no copy for whole chains).
  // Streams call it from Stream::emit, when the scheduler gives them a turn.
  void send_data(uint32_t stream, evbuffer* src, size_t n);
  // The stream can send DATA now: its emit() is called at its turn, once
  // the channel can take a frame (later in this loop turn at the soonest).
  void ready_to_send(uint32_t stream);
  bool waits_for_turn(uint32_t stream) const { return scheduler_.contains(stream); }
  // Queues one DATAGRAM unless the channel is far behind; false = dropped.
  bool send_datagram(uint32_t session, const uint8_t* p, size_t n);
  // Debug lines: the channel's queues and each stream's flow state
  // (Stream::log_flow), for the status signal.
  void log_flow() const;

  // Server side: next unused channel id.
  uint32_t allocate_id() { return next_id_++; }
  // The one way into the table (ids are unique per tunnel).
  template <class C>
  C* add_channel(std::unique_ptr<C> c) {
    C* raw = c.get();
    insert_channel(std::move(c));
    return raw;
  }
  // The one way out: a channel's single exit calls it; the reaper frees it.
  void forget_channel(uint32_t id);
  size_t stream_count() const { return streams_; }  // TCP streams
  // Calls fn for each live TCP stream (forward-ctl streams).
  // (S is Stream, a template parameter only because stream.h includes this file.)
  template <class Fn, class S = Stream>
  void for_each_stream(Fn fn) const {
    for (const auto& kv : channels_)
      if (kv.second->kind() == Channel::Kind::stream) fn(static_cast<const S&>(*kv.second));
  }
  size_t datagram_count() const { return channels_.size() - streams_; }  // UDP sessions

 private:
  // The handshake's progress is handshake_.stage().
  enum class State { handshake, up, closed };

  static void timeout_cb(evutil_socket_t, short, void* arg) noexcept;
  static void deferred_close_cb(evutil_socket_t, short, void* arg) noexcept;
  static void fill_cb(evutil_socket_t, short, void* arg) noexcept;
  // Gives streams their turns (scheduler_) while the output is under
  // channel_fill: each sends at most one frame per turn.
  void fill();
  // Queued output past channel_hard_cap: the peer is not reading. Closing
  // waits for the next loop turn, since the caller may be a stream
  // in the middle of its own work.
  void check_output_cap();
  size_t queued_output() const { return transport_.queued(); }
  // Aborts every channel (the tunnel is lost for why).
  void abort_channels(const std::string& why);

  // Transport::Owner
  void transport_readable() override { on_read(); }
  void transport_drained() override;
  void transport_eof() override;
  void transport_error(const std::string& what, bool reading) override;
  // Handshake::Link
  void send_handshake(frame::Type type, const std::string& payload) override {
    send_control(type, 0, payload);
  }
  bool channel_binding(std::string& out) override { return transport_.channel_binding(out); }
  bool admit(std::string& why) override { return handler_.admit_channel(*this, why); }
  void refuse(const std::string& why) override;
  void handshake_failed(const std::string& why) override;
  void handshake_done() override;
  // HeartbeatTimer::Owner
  void heartbeat_tick() override;

  void on_read();
  // Reads one frame's header; false if the frame is not complete yet or the
  // channel closed (a bad header).
  bool read_header(evbuffer* in, frame::Header& h, std::string& err);
  // One complete frame (header drained); false with err: protocol error.
  bool dispatch(const frame::Header& h, evbuffer* in, std::string& err);
  bool dispatch_data(const frame::Header& h, evbuffer* in, std::string& err);
  bool dispatch_datagram(const frame::Header& h, evbuffer* in, std::string& err);
  bool dispatch_control(const frame::Header& h, const uint8_t* p, std::string& err);
  // One per control frame type; OPEN and UDP_OPEN share on_open.
  bool on_ping(const frame::Header& h, const uint8_t* p);
  bool on_close(const frame::Header& h, const uint8_t* p, std::string& err);
  bool on_open(const frame::Header& h, const uint8_t* p, std::string& err);
  bool on_open_reply(const frame::Header& h, const uint8_t* p, std::string& err);
  bool on_eof(const frame::Header& h, std::string& err);
  bool on_reset(const frame::Header& h, const uint8_t* p, std::string& err);
  bool on_window(const frame::Header& h, const uint8_t* p, std::string& err);
  bool on_expose(const frame::Header& h, const uint8_t* p, std::string& err);
  bool on_request(const frame::Header& h, const uint8_t* p, std::string& err);
  void insert_channel(std::unique_ptr<Channel> c);
  // The one answer to a frame's id: the channel, or nullptr with ok=true
  // for an id that was open once and is forgotten now (the frame crossed
  // its close and is dropped), ok=false for an id never opened.
  Channel* lookup(uint32_t id, bool& ok, std::string& err);
  void protocol_error(const std::string& what);

  Transport transport_;  // first: freed last
  frame::Role role_;
  std::string peer_;
  std::string source_;
  int64_t up_since_ = 0;
  TunnelHandler& handler_;
  Reaper& reaper_;
  TunnelOptions options_;
  Handshake handshake_;
  bool closing_ = false;        // close_with_notice: flushing the CLOSE
  std::string closing_reason_;  // and what close() will then log
  std::string close_reason_;    // what close() logged
  LogLevel closing_level_ = LogLevel::warning;
  EventPtr deferred_close_;     // closing_ timeout, and the output cap's close
  uint64_t pongs_skipped_ = 0;  // PINGs not answered while the peer does not read
  bool lost_before_peer_hello_ = false;
  Heartbeat heartbeat_;
  RttProbe probe_;
  WindowPool window_pool_;
  HeartbeatTimer heartbeat_timer_;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  State state_ = State::handshake;
  EventPtr handshake_timer_;
  std::unordered_map<uint32_t, std::unique_ptr<Channel>> channels_;
  size_t streams_ = 0;  // how many of them are TCP streams
  FrameScheduler scheduler_;  // streams that can send DATA, in turn
  EventPtr fill_event_;       // fill() later in this loop turn
  uint32_t next_id_ = 1;      // server: next id to hand out
  uint32_t highest_seen_ = 0;  // client: highest id the server opened
};
