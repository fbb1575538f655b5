// One client<->server channel: owns its socket, speaks the frame protocol
// (docs/PROTOCOL.md), and owns the streams multiplexed on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth.h"
#include "ev.h"
#include "frame.h"
#include "log.h"
#include "reaper.h"
#include "socket_reader.h"
#include "socket_writer.h"

class Stream;
class Tunnel;

// Implemented by ForwardServer and ForwardClient.
class TunnelHandler {
 public:
  virtual void tunnel_up(Tunnel& t) = 0;
  // The tunnel has closed and aborted its streams; the handler buries it.
  virtual void tunnel_closed(Tunnel& t) = 0;
  // Client side: the server asks for a new stream.
  virtual void open_requested(Tunnel& t, uint32_t id, const frame::Open& open) = 0;
  // UDP sessions (ids from the same space as streams, kept by the handler).
  // Client side: the server asks for a new UDP session.
  virtual void udp_open_requested(Tunnel& t, uint32_t id, const frame::UdpOpen& open) = 0;
  virtual void datagram_received(Tunnel& t, uint32_t id, const uint8_t* p, size_t n) = 0;
  // RESET or OPEN_FAIL for an id that is not a TCP stream.
  virtual void udp_closed(Tunnel& t, uint32_t id, const std::string& why) = 0;

 protected:
  ~TunnelHandler() = default;
};

struct TunnelLimits {
  uint32_t stream_window = 1u << 20;      // receive window per stream
  size_t channel_high = 1u << 20;         // stop reading locals above this much queued
  size_t channel_low = 512u << 10;        // resume below this
  int handshake_timeout_sec = 5;  // TLS + HELLO + AUTH must complete in this time
  int heartbeat_sec = 10;         // PING every this often; dead after 3 silent intervals; 0: off
};

using SessionId = std::array<uint8_t, frame::kSessionIdSize>;

struct TunnelOptions {
  AuthSettingsPtr auth;
  TunnelLimits limits;
  SessionId session{};   // client: sent in HELLO
  std::string tag;       // client: sent in HELLO
};

class Tunnel : public Disposable, private SocketWriter::Owner {
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
  bool up() const { return state_ == State::up; }
  bool closed() const { return state_ == State::closed; }
  const std::string& peer() const { return peer_; }
  // Server: the name the client authenticated with ("" if none).
  const std::string& client_name() const { return client_name_; }
  // Server: what the client announced in its HELLO.
  const SessionId& peer_session() const { return peer_session_; }
  const std::string& peer_tag() const { return peer_tag_; }
  // Bytes of DATA payload moved each way, for status lines.
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  // Aborts every stream whose owner tag is `owner` (a removed mapping).
  size_t abort_streams_owned_by(const void* owner, const std::string& reason);
  event_base* base() const;
  Reaper& reaper() { return reaper_; }
  const TunnelLimits& limits() const { return options_.limits; }
  // ", TLSv1.3 TLS_AES_128_GCM_SHA256" on TLS channels, "" on plain ones.
  std::string tls_summary() const;

  // Idempotent single exit: logs the reason, aborts every stream, tells
  // the handler.
  void close(const std::string& reason, LogLevel level = LogLevel::notice);

  void send_control(frame::Type type, uint32_t stream, const std::string& payload);
  // OPEN_FAIL or RESET with a reason and text.
  void send_failure(frame::Type type, uint32_t stream, frame::Reason reason,
                    const std::string& text);
  // Moves n bytes from src into one DATA frame (no copy for whole chains).
  void send_data(uint32_t stream, evbuffer* src, size_t n);
  bool congested() const;
  // Queues one DATAGRAM unless the channel is far behind; false = dropped.
  bool send_datagram(uint32_t session, const uint8_t* p, size_t n);
  // The stream is called back (pump) once the channel has drained.
  void wait_for_drain(uint32_t stream);

  // Client side: the server opened this id (UDP sessions).
  void note_opened(uint32_t id) {
    if (id > highest_seen_) highest_seen_ = id;
  }
  // Server side: next unused stream id.
  uint32_t allocate_id() { return next_id_++; }
  Stream* add_stream(std::unique_ptr<Stream> s);
  // Drops the stream from the table; the reaper frees it.
  void forget_stream(uint32_t id);
  size_t stream_count() const { return streams_.size(); }

 private:
  enum class State { handshake, auth, up, closed };

  static void read_cb(bufferevent*, void* arg) noexcept;
  static void readable_cb(evutil_socket_t, short, void* arg) noexcept;
  static void write_cb(bufferevent*, void* arg) noexcept;
  static void event_cb(bufferevent*, short what, void* arg) noexcept;
  static void timeout_cb(evutil_socket_t, short, void* arg) noexcept;
  static void heartbeat_cb(evutil_socket_t, short, void* arg) noexcept;
  void on_heartbeat();
  void on_written() override;
  void on_write_error(int err) override;
  // Plain channels: write what was queued later in this loop turn.
  void flush_soon() {
    if (writer_) writer_->schedule();
  }

  void on_readable();
  void on_read();
  void on_drained();
  bool dispatch_control(const frame::Header& h, const uint8_t* p, std::string& err);
  bool on_hello(const frame::Hello& hello, std::string& err);
  bool on_auth(const frame::Auth& auth, std::string& err);
  void become_up();
  void send_hello();
  std::string channel_binding() const;
  void auth_failed(const std::string& why);
  std::string handshake_eof_reason() const;
  bool dispatch_data(const frame::Header& h, evbuffer* in, std::string& err);
  // Finds the stream for a frame: nullptr with ok=true for an id that was
  // open once and is forgotten now; ok=false for an id never opened.
  Stream* lookup(uint32_t id, bool& ok, std::string& err);
  // True if id was opened once on this channel (it may be gone now).
  bool lookup_id(uint32_t id, std::string& err);
  void protocol_error(const std::string& what);

  BufferEventPtr bev_;
  EventPtr read_event_;  // plain sockets: one big readv per wakeup (socket_reader.h)
  ReadAhead read_ahead_;
  std::unique_ptr<SocketWriter> writer_;  // plain sockets (socket_writer.h); TLS: bev_ writes
  frame::Role role_;
  std::string peer_;
  TunnelHandler& handler_;
  Reaper& reaper_;
  TunnelOptions options_;
  bool tls_;
  Nonce nonce_;             // ours
  std::string hello_sent_;  // HELLO payloads as sent, for the proofs
  std::string hello_received_;
  std::string client_name_;
  SessionId peer_session_{};
  std::string peer_tag_;
  EventPtr heartbeat_timer_;
  int64_t last_heard_ms_ = 0;  // loop time of the last frame from the peer
  int64_t next_ping_ms_ = 0;
  uint64_t pings_sent_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  State state_ = State::handshake;
  EventPtr handshake_timer_;
  std::unordered_map<uint32_t, std::unique_ptr<Stream>> streams_;
  std::vector<uint32_t> waiting_for_drain_;
  uint32_t next_id_ = 1;      // server: next id to hand out
  uint32_t highest_seen_ = 0;  // client: highest id the server opened
};
