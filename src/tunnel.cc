#include "tunnel.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include "address.h"
#include "stream.h"

Tunnel::Tunnel(BufferEventPtr bev, bool tls, frame::Role role, std::string peer,
               TunnelHandler& handler, Reaper& reaper, TunnelOptions options)
    : transport_(std::move(bev), tls, options.limits.channel_low, *this),
      role_(role),
      peer_(std::move(peer)),
      handler_(handler),
      reaper_(reaper),
      options_(std::move(options)),
      nonce_(random_nonce()),
      heartbeat_timer_(transport_.base(), *this) {
  handshake_timer_.reset(evtimer_new(base(), timeout_cb, this));
  deferred_close_.reset(evtimer_new(base(), deferred_close_cb, this));
}

Tunnel::~Tunnel() = default;

event_base* Tunnel::base() const { return transport_.base(); }

void Tunnel::start() {
  if (role_ == frame::Role::client) send_hello();
  timeval tv{options_.limits.handshake_timeout_sec, 0};
  evtimer_add(handshake_timer_.get(), &tv);
  // The client's TLS handshake is already done.
  transport_.start(role_ == frame::Role::client);
}

void Tunnel::send_hello() {
  frame::Hello hello;
  hello.role = role_;
  hello.flags = options_.auth->enabled ? frame::kHelloFlagAuth : 0;
  hello.nonce = nonce_;
  if (role_ == frame::Role::client) {
    hello.session = options_.session;
    hello.tag = options_.tag;
  }
  hello_sent_.clear();
  frame::encode_hello(hello, hello_sent_);
  send_control(frame::Type::hello, 0, hello_sent_);
}

// Any frame counts as a sign of life (on_read tells heartbeat_); PINGs
// make sure there is one.
void Tunnel::heartbeat_tick() {
  if (state_ != State::up || closing_) return;
  std::string why;
  switch (heartbeat_.tick(loop_time_ms(base()), transport_.last_written_ms(), queued_output(), why)) {
    case Heartbeat::Verdict::wait: break;
    case Heartbeat::Verdict::ping: send_control(frame::Type::ping, 0, heartbeat_.next_ping()); break;
    case Heartbeat::Verdict::dead:
    case Heartbeat::Verdict::stuck: close(why, LogLevel::warning); break;
  }
}

size_t Tunnel::abort_streams_owned_by(const void* owner, const std::string& reason) {
  std::vector<uint32_t> ids;
  for (auto& kv : streams_)
    if (kv.second->owner() == owner) ids.push_back(kv.first);
  for (uint32_t id : ids) {
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->reset(reason);
  }
  return ids.size();
}

void Tunnel::close(const std::string& reason, LogLevel level) {
  if (state_ == State::closed) return;
  bool was_up = state_ == State::up;
  state_ = State::closed;
  handshake_timer_.reset();
  heartbeat_timer_.stop();
  deferred_close_.reset();
  if (was_up) {
    if (level == LogLevel::notice)
      log_notice("%s %s: channel closed: %s (%zu streams aborted)",
                 role_ == frame::Role::server ? "client" : "server", peer_.c_str(), reason.c_str(),
                 streams_.size());
    else
      log_warnx("%s %s: channel closed: %s (%zu streams aborted)",
                role_ == frame::Role::server ? "client" : "server", peer_.c_str(), reason.c_str(),
                streams_.size());
  } else {
    log_warnx("%s %s: %s", role_ == frame::Role::server ? "connection from" : "server", peer_.c_str(),
              reason.c_str());
  }
  // Streams forget themselves as they abort; iterate over a snapshot.
  std::vector<uint32_t> ids;
  ids.reserve(streams_.size());
  for (auto& kv : streams_) ids.push_back(kv.first);
  for (uint32_t id : ids) {
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->abort("channel lost: " + reason);
  }
  transport_.close();  // after a last word to the peer
  handler_.tunnel_closed(*this);
}

void Tunnel::deferred_close_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* t = static_cast<Tunnel*>(arg);
  t->close(t->closing_reason_, t->closing_level_);
}

void Tunnel::close_with_notice(frame::Reason code, const std::string& text,
                               const std::string& log_reason, LogLevel level) {
  if (state_ == State::closed || closing_) return;
  send_failure(frame::Type::close, 0, code, text);
  closing_reason_ = log_reason.empty() ? text : log_reason;
  closing_level_ = level;
  // Plain sockets: close() writes the CLOSE out at once.
  if (!transport_.tls()) {
    close(closing_reason_, level);
    return;
  }
  // TLS writes from the loop: stop everything else, and close once the
  // CLOSE is out (write_cb at an empty output) or after a second.
  closing_ = true;
  handshake_timer_.reset();
  std::vector<uint32_t> ids;
  for (auto& kv : streams_) ids.push_back(kv.first);
  for (uint32_t id : ids) {
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->abort("channel lost: " + closing_reason_);
  }
  transport_.finish_writing();
  timeval tv{1, 0};
  evtimer_add(deferred_close_.get(), &tv);
}

void Tunnel::check_output_cap() {
  size_t queued = queued_output();
  if (queued <= options_.limits.channel_hard_cap || closing_ || state_ == State::closed) return;
  closing_ = true;
  closing_reason_ = "the peer does not read: " + std::to_string(queued) +
                    " bytes queued for the channel, over the cap of " +
                    std::to_string(options_.limits.channel_hard_cap);
  closing_level_ = LogLevel::warning;
  event_active(deferred_close_.get(), EV_TIMEOUT, 0);
}

void Tunnel::send_control(frame::Type type, uint32_t stream, const std::string& payload) {
  // Past the cap nothing more is queued: the channel closes next turn.
  if (!transport_.open() || (closing_ && type != frame::Type::close)) return;
  uint8_t h[frame::kHeaderSize];
  frame::encode_header(frame::Header{type, stream, static_cast<uint32_t>(payload.size())}, h);
  evbuffer* out = transport_.output();
  evbuffer_add(out, h, sizeof h);
  if (!payload.empty()) evbuffer_add(out, payload.data(), payload.size());
  transport_.flush_soon();
  check_output_cap();
}

void Tunnel::send_failure(frame::Type type, uint32_t stream, frame::Reason reason,
                          const std::string& text) {
  std::string payload;
  frame::encode_failure(frame::Failure{static_cast<uint8_t>(reason), text}, payload);
  send_control(type, stream, payload);
}

void Tunnel::send_data(uint32_t stream, evbuffer* src, size_t n) {
  if (!transport_.open() || closing_) return;
  uint8_t h[frame::kHeaderSize];
  frame::encode_header(frame::Header{frame::Type::data, stream, static_cast<uint32_t>(n)}, h);
  evbuffer* out = transport_.output();
  evbuffer_add(out, h, sizeof h);
  evbuffer_remove_buffer(src, out, n);
  bytes_out_ += n;
  transport_.flush_soon();
}

bool Tunnel::send_datagram(uint32_t session, const uint8_t* p, size_t n) {
  if (!transport_.open() || closing_ || n > frame::kMaxDatagram) return false;
  // Datagrams have no flow control: rather than queue them behind bulk
  // data without bound, drop them once the channel is well past the point
  // where streams stop reading.
  evbuffer* out = transport_.output();
  if (evbuffer_get_length(out) >= 2 * options_.limits.channel_high) return false;
  uint8_t h[frame::kHeaderSize];
  frame::encode_header(frame::Header{frame::Type::datagram, session, static_cast<uint32_t>(n)}, h);
  evbuffer_add(out, h, sizeof h);
  if (n) evbuffer_add(out, p, n);
  transport_.flush_soon();
  return true;
}

bool Tunnel::congested() const {
  return !transport_.open() || closing_ || transport_.queued() >= options_.limits.channel_high;
}

void Tunnel::wait_for_drain(uint32_t stream) { waiting_for_drain_.push_back(stream); }

Stream* Tunnel::add_stream(std::unique_ptr<Stream> s) {
  Stream* raw = s.get();
  uint32_t id = s->id();
  if (id > highest_seen_) highest_seen_ = id;
  streams_[id] = std::move(s);
  return raw;
}

void Tunnel::forget_stream(uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  reaper_.bury(std::move(it->second));
  streams_.erase(it);
}

void Tunnel::transport_eof() {
  close(state_ == State::up ? "peer closed the channel" : handshake_eof_reason());
}

// A plain socket's read error during the handshake also gives the likely
// reason.
void Tunnel::transport_error(const std::string& what, bool reading) {
  close("channel error: " + what +
            (reading && state_ != State::up ? " (" + handshake_eof_reason() + ")" : ""),
        LogLevel::warning);
}

void Tunnel::timeout_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* t = static_cast<Tunnel*>(arg);
  if (t->state_ == State::handshake || t->state_ == State::auth)
    t->close("handshake not completed within " + std::to_string(t->options_.limits.handshake_timeout_sec) +
             " seconds, dropped", LogLevel::warning);
}

std::string Tunnel::handshake_eof_reason() const {
  if (role_ == frame::Role::server) return "closed during the handshake";
  // The server logs the real reason; give the usual suspects here.
  if (state_ == State::auth) return "server closed the channel during authentication: wrong key?";
  if (!options_.auth->enabled)
    return "server closed the connection during the handshake: does it require a key "
           "(--key-file)?";
  return std::string("server closed the connection during the handshake: ") +
         (transport_.tls() ? "not a tcp-forward server, or it refused our certificate?"
               : "does the server use TLS (then add --tls), or is it not a tcp-forward server?");
}

void Tunnel::auth_failed(const std::string& why) {
  close("authentication failed: " + why, LogLevel::warning);
}

std::string Tunnel::tls_summary() const {
  std::string s = transport_.tls_summary();
  return s.empty() ? s : ", " + s;
}

// On TLS the proofs must bind the TLS session; without the exporter they
// would bind nothing, so the handshake fails closed (and the channel closes).
bool Tunnel::channel_binding(std::string& out) {
  if (transport_.channel_binding(out)) return true;
  auth_failed("TLS channel binding unavailable");
  return false;
}

void Tunnel::become_up() {
  state_ = State::up;
  handshake_timer_.reset();
  heartbeat_.start(loop_time_ms(base()), options_.limits.heartbeat_sec * 1000LL);
  if (options_.limits.heartbeat_sec > 0) heartbeat_timer_.start(options_.limits.heartbeat_sec);
  handler_.tunnel_up(*this);
}

bool Tunnel::on_hello(const frame::Hello& hello, std::string& err) {
  if (hello.version != frame::kVersion) {
    err = "peer speaks protocol version " + std::to_string(hello.version) +
          ", this build speaks " + std::to_string(frame::kVersion);
    return false;
  }
  frame::Role expected = role_ == frame::Role::server ? frame::Role::client : frame::Role::server;
  if (hello.role != expected) {
    err = "peer announced the wrong role";
    return false;
  }
  bool peer_auth = hello.flags & frame::kHelloFlagAuth;
  if (role_ == frame::Role::server) {
    peer_session_ = hello.session;
    peer_tag_ = hello.tag.empty() ? "default" : hello.tag;
    // Our HELLO goes first even to a client we refuse: its AUTH flag tells
    // the client why (it needs a key).
    send_hello();
    if (options_.auth->enabled && !peer_auth) {
      auth_failed("client has no key, and this server requires one (AUTH_KEY_FILE)");
      return true;
    }
    if (options_.auth->enabled) {
      state_ = State::auth;
      return true;
    }
    std::string why;
    if (!handler_.admit_channel(*this, why)) {
      close_with_notice(frame::Reason::not_allowed, why, "refused: " + why);
      return true;
    }
    become_up();
    return true;
  }
  if (options_.auth->enabled && !peer_auth) {
    auth_failed("server does not authenticate (AUTH = none); refusing it because it cannot prove it knows the key");
    return true;
  }
  if (!options_.auth->enabled && peer_auth) {
    auth_failed("server requires a key: give --key-file");
    return true;
  }
  if (!options_.auth->enabled) {
    become_up();
    return true;
  }
  std::string binding;
  if (!channel_binding(binding)) return true;
  frame::Auth a;
  a.name = options_.auth->name;
  a.proof = compute_proof(options_.auth->key, frame::Role::client, hello_sent_, hello_received_,
                          a.name, binding);
  std::string payload;
  frame::encode_auth(a, payload);
  send_control(frame::Type::auth, 0, payload);
  state_ = State::auth;
  return true;
}

bool Tunnel::on_auth(const frame::Auth& a, std::string& err) {
  if (state_ != State::auth) {
    err = "AUTH outside the handshake";
    return false;
  }
  if (role_ == frame::Role::server) {
    const Key* key = options_.auth->key_for(a.name);
    if (!key) {
      auth_failed("no key for client name '" + printable(a.name) + "'");
      return true;
    }
    std::string binding;
    if (!channel_binding(binding)) return true;
    Proof want = compute_proof(*key, frame::Role::client, hello_received_, hello_sent_, a.name,
                               binding);
    if (!proof_matches(want, a.proof)) {
      auth_failed(a.name.empty() ? "wrong key" : "wrong key for client '" + a.name + "'");
      return true;
    }
    client_name_ = a.name;
    named_ = options_.auth->clients.count(a.name) > 0;
    proven_key_ = *key;
    std::string why;
    if (!handler_.admit_channel(*this, why)) {
      close_with_notice(frame::Reason::not_allowed, why, "refused: " + why);
      return true;
    }
    frame::Auth reply;
    reply.proof = compute_proof(*key, frame::Role::server, hello_received_, hello_sent_, a.name,
                                binding);
    std::string payload;
    frame::encode_auth(reply, payload);
    send_control(frame::Type::auth, 0, payload);
    become_up();
    return true;
  }
  std::string binding;
  if (!channel_binding(binding)) return true;
  Proof want = compute_proof(options_.auth->key, frame::Role::server, hello_sent_, hello_received_,
                             options_.auth->name, binding);
  if (!proof_matches(want, a.proof)) {
    auth_failed("server could not prove the key (wrong key, or not our server)");
    return true;
  }
  become_up();
  return true;
}

void Tunnel::protocol_error(const std::string& what) {
  close("protocol error: " + what, LogLevel::warning);
}

void Tunnel::transport_drained() {
  if (closing_) {
    if (queued_output() == 0) close(closing_reason_, closing_level_);
    return;
  }
  if (waiting_for_drain_.empty()) return;
  std::vector<uint32_t> waiting;
  waiting.swap(waiting_for_drain_);
  for (uint32_t id : waiting) {
    if (state_ == State::closed) return;
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->channel_drained();
  }
}

void Tunnel::on_read() {
  evbuffer* in = transport_.input();
  if (closing_) {  // nothing the peer says matters any more
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  std::string err;
  int64_t now_ms = loop_time_ms(base());
  while (state_ != State::closed && !closing_) {
    size_t avail = evbuffer_get_length(in);
    if (avail < frame::kHeaderSize) break;
    uint8_t hb[frame::kHeaderSize];
    evbuffer_copyout(in, hb, sizeof hb);
    frame::Header h;
    if (!frame::decode_header(hb, h, err)) {
      if (state_ == State::handshake && hb[0] == 0x16 && hb[1] == 0x03)
        err = "a TLS handshake, but this side does not use TLS (TLS_CERT/TLS_KEY, or drop --tls)";
      protocol_error(state_ == State::handshake ? "not a tcp-forward peer (" + err + ")" : err);
      return;
    }
    if (state_ == State::handshake && h.type != frame::Type::hello && h.type != frame::Type::close) {
      protocol_error(std::string("expected HELLO, got ") + frame::type_name(h.type));
      return;
    }
    if (state_ == State::auth && h.type != frame::Type::auth && h.type != frame::Type::close) {
      protocol_error(std::string("expected AUTH, got ") + frame::type_name(h.type));
      return;
    }
    if (avail < frame::kHeaderSize + h.length) break;  // wait for the rest
    evbuffer_drain(in, frame::kHeaderSize);
    heartbeat_.heard(now_ms);
    bool ok;
    if (h.type == frame::Type::data) {
      ok = dispatch_data(h, in, err);
    } else if (h.type == frame::Type::datagram) {
      ok = lookup_id(h.stream, err);
      if (ok) {
        const uint8_t* p = h.length ? evbuffer_pullup(in, h.length) : nullptr;
        handler_.datagram_received(*this, h.stream, p, h.length);
      }
      evbuffer_drain(in, h.length);
    } else {
      uint8_t payload[frame::kMaxControlPayload];
      evbuffer_remove(in, payload, h.length);
      ok = dispatch_control(h, payload, err);
    }
    if (!ok && state_ != State::closed) {
      protocol_error(err);
      return;
    }
  }
}

bool Tunnel::lookup_id(uint32_t id, std::string& err) {
  uint32_t highest = role_ == frame::Role::server ? next_id_ - 1 : highest_seen_;
  if (id <= highest) return true;
  err = "frame for stream " + std::to_string(id) + " that was never opened";
  return false;
}

Stream* Tunnel::lookup(uint32_t id, bool& ok, std::string& err) {
  auto it = streams_.find(id);
  if (it != streams_.end()) {
    ok = true;
    return it->second.get();
  }
  // Ids are handed out in increasing order, so anything at or below the
  // highest known id was open once and may legitimately trail its close.
  uint32_t highest = role_ == frame::Role::server ? next_id_ - 1 : highest_seen_;
  ok = id <= highest;
  if (!ok) err = "frame for stream " + std::to_string(id) + " that was never opened";
  return nullptr;
}

bool Tunnel::dispatch_data(const frame::Header& h, evbuffer* in, std::string& err) {
  bool ok;
  Stream* s = lookup(h.stream, ok, err);
  if (!s) {
    evbuffer_drain(in, h.length);
    return ok;
  }
  bytes_in_ += h.length;
  return s->on_data(in, h.length, err);
}

bool Tunnel::dispatch_control(const frame::Header& h, const uint8_t* p, std::string& err) {
  using frame::Type;
  switch (h.type) {
    case Type::hello: {
      if (state_ != State::handshake) {
        err = "HELLO after the handshake";
        return false;
      }
      frame::Hello hello;
      if (!frame::decode_hello(p, h.length, hello, err)) return false;
      hello_received_.assign(reinterpret_cast<const char*>(p), h.length);
      return on_hello(hello, err);
    }
    case Type::auth: {
      frame::Auth a;
      if (!frame::decode_auth(p, h.length, a, err)) return false;
      return on_auth(a, err);
    }
    case Type::ping: {
      // A peer that sends PINGs but does not read gets no PONGs: answers
      // would pile up without bound.
      if (queued_output() > options_.limits.channel_high) {
        if (pongs_skipped_++ == 0)
          log_warnx("%s %s: not answering PINGs while %zu bytes wait for the peer to read",
                    role_ == frame::Role::server ? "client" : "server", peer_.c_str(), queued_output());
        return true;
      }
      send_control(Type::pong, 0, std::string(reinterpret_cast<const char*>(p), h.length));
      return true;
    }
    case Type::close: {
      frame::Failure f;
      if (!frame::decode_failure(p, h.length, f, err)) return false;
      std::string who = role_ == frame::Role::server ? "the client" : "the server";
      close(who + (state_ == State::up ? " closed the channel: " : " refused the channel: ") +
                printable(f.text),
            LogLevel::warning);
      return true;
    }
    case Type::pong:
      return true;
    case Type::open: {
      if (role_ != frame::Role::client) {
        err = "OPEN sent to the server";
        return false;
      }
      if (h.stream <= highest_seen_) {
        err = "OPEN reuses stream id " + std::to_string(h.stream);
        return false;
      }
      frame::Open open;
      if (!frame::decode_open(p, h.length, open, err)) return false;
      highest_seen_ = h.stream;
      handler_.open_requested(*this, h.stream, open);
      return true;
    }
    case Type::open_ok:
    case Type::open_fail: {
      if (role_ != frame::Role::server) {
        err = std::string(frame::type_name(h.type)) + " sent to the client";
        return false;
      }
      bool ok;
      Stream* s = lookup(h.stream, ok, err);
      if (!s) {
        if (ok && h.type == Type::open_fail) {
          frame::Failure f;
          if (!frame::decode_failure(p, h.length, f, err)) return false;
          handler_.udp_closed(*this, h.stream, frame::reason_name(f.reason));
        }
        return ok;
      }
      if (s->state() != Stream::State::opening) {
        err = std::string(frame::type_name(h.type)) + " for stream " + std::to_string(h.stream) +
              " that is not opening";
        return false;
      }
      if (h.type == Type::open_ok) {
        uint32_t window;
        if (!frame::decode_u32(p, h.length, window, err)) return false;
        if (window < frame::kEarlyWindow) {
          err = "OPEN_OK window " + std::to_string(window) + " below the early-data window";
          return false;
        }
        s->on_open_ok(window);
      } else {
        frame::Failure f;
        if (!frame::decode_failure(p, h.length, f, err)) return false;
        s->on_open_fail(f);
      }
      return true;
    }
    case Type::eof: {
      bool ok;
      Stream* s = lookup(h.stream, ok, err);
      return s ? s->on_eof(err) : ok;
    }
    case Type::reset: {
      frame::Failure f;
      if (!frame::decode_failure(p, h.length, f, err)) return false;
      bool ok;
      Stream* s = lookup(h.stream, ok, err);
      if (s)
        s->on_reset(f);
      else if (ok)
        handler_.udp_closed(*this, h.stream, printable(f.text));
      return ok;
    }
    case Type::window: {
      uint32_t inc;
      if (!frame::decode_u32(p, h.length, inc, err)) return false;
      bool ok;
      Stream* s = lookup(h.stream, ok, err);
      return s ? s->on_window(inc, err) : ok;
    }
    case Type::udp_open: {
      if (role_ != frame::Role::client) {
        err = "UDP_OPEN sent to the server";
        return false;
      }
      if (h.stream <= highest_seen_) {
        err = "UDP_OPEN reuses id " + std::to_string(h.stream);
        return false;
      }
      frame::UdpOpen open;
      if (!frame::decode_udp_open(p, h.length, open, err)) return false;
      highest_seen_ = h.stream;
      handler_.udp_open_requested(*this, h.stream, open);
      return true;
    }
    case Type::data:
    case Type::datagram:
      break;  // handled in on_read
  }
  err = "unexpected frame";
  return false;
}
