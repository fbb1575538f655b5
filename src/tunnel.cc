#include "tunnel.h"

#include <ctime>

#include <cstring>

#include "address.h"
#include "hex.h"
#include "stream.h"

Tunnel::Tunnel(BufferEventPtr bev, bool tls, frame::Role role, std::string peer,
               TunnelHandler& handler, Reaper& reaper, TunnelOptions options)
    : transport_(std::move(bev), tls, options.limits.channel_fill, *this),
      role_(role),
      peer_(std::move(peer)),
      handler_(handler),
      reaper_(reaper),
      options_(std::move(options)),
      handshake_(role, tls, options_.auth, options_.session, options_.tag, *this,
                 options_.features),
      window_pool_(options_.limits.stream_window, options_.limits.stream_window_max,
                   options_.limits.window_growth_total),
      heartbeat_timer_(transport_.base(), *this),
      scheduler_(options_.limits.data_quantum) {
  handshake_timer_.reset(evtimer_new(base(), timeout_cb, this));
  deferred_close_.reset(evtimer_new(base(), deferred_close_cb, this));
  fill_event_.reset(event_new(base(), -1, 0, fill_cb, this));
}

Tunnel::~Tunnel() = default;

event_base* Tunnel::base() const { return transport_.base(); }

void Tunnel::start() {
  handshake_.start();
  timeval tv{options_.limits.handshake_timeout_sec, 0};
  evtimer_add(handshake_timer_.get(), &tv);
  // The client's TLS handshake is already done.
  transport_.start(role_ == frame::Role::client);
}

// Any frame counts as a sign of life (on_read tells heartbeat_); PINGs
// make sure there is one.
void Tunnel::heartbeat_tick() {
  if (state_ != State::up || closing_) return;
  std::string why;
  switch (heartbeat_.tick(loop_time_ms(base()), transport_.last_written_ms(), queued_output(), why)) {
    case Heartbeat::Verdict::wait: break;
    case Heartbeat::Verdict::ping:
      send_control(frame::Type::ping, 0, heartbeat_.next_ping(loop_time_ms(base())));
      break;
    case Heartbeat::Verdict::dead:
    case Heartbeat::Verdict::stuck: close(why, LogLevel::warning); break;
  }
}

size_t Tunnel::abort_channels_owned_by(const void* owner, const std::string& reason) {
  std::vector<uint32_t> ids;
  for (auto& kv : channels_)
    if (kv.second->owner() == owner) ids.push_back(kv.first);
  for (uint32_t id : ids) {
    auto it = channels_.find(id);
    if (it != channels_.end()) it->second->reset(reason);
  }
  return ids.size();
}

void Tunnel::abort_channels(const std::string& why) {
  // Channels forget themselves as they end; iterate over a snapshot.
  std::vector<uint32_t> ids;
  ids.reserve(channels_.size());
  for (auto& kv : channels_) ids.push_back(kv.first);
  for (uint32_t id : ids) {
    auto it = channels_.find(id);
    if (it != channels_.end()) it->second->abort("channel lost: " + why);
  }
}

void Tunnel::close(const std::string& reason, LogLevel level) {
  if (state_ == State::closed) return;
  bool was_up = state_ == State::up;
  state_ = State::closed;
  close_reason_ = reason;
  handshake_timer_.reset();
  heartbeat_timer_.stop();
  deferred_close_.reset();
  fill_event_.reset();
  if (was_up) {
    if (level == LogLevel::notice)
      log_notice("%s %s: channel closed: %s (%zu streams aborted)",
                 role_ == frame::Role::server ? "client" : "server", peer_.c_str(), reason.c_str(),
                 streams_);
    else
      log_warnx("%s %s: channel closed: %s (%zu streams aborted)",
                role_ == frame::Role::server ? "client" : "server", peer_.c_str(), reason.c_str(),
                streams_);
  } else {
    log_warnx("%s %s: %s", role_ == frame::Role::server ? "connection from" : "server", peer_.c_str(),
              reason.c_str());
  }
  abort_channels(reason);
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
  // CLOSE is out (transport_drained at an empty output) or after a second.
  closing_ = true;
  handshake_timer_.reset();
  abort_channels(closing_reason_);
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

void Tunnel::ready_to_send(uint32_t stream) {
  if (!transport_.open() || closing_ || !fill_event_) return;
  scheduler_.add(stream);
  // Streams that become ready in the same loop turn all join the round
  // before the first of them is served.
  if (transport_.queued() < options_.limits.channel_fill) event_active(fill_event_.get(), EV_TIMEOUT, 0);
}

void Tunnel::fill_cb(evutil_socket_t, short, void* arg) noexcept { static_cast<Tunnel*>(arg)->fill(); }

void Tunnel::fill() {
  uint32_t id;
  size_t allowance;
  while (state_ != State::closed && !closing_ && transport_.open() &&
         transport_.queued() < options_.limits.channel_fill && scheduler_.next(id, allowance)) {
    auto it = channels_.find(id);
    if (it == channels_.end() || it->second->kind() != Channel::Kind::stream) {
      scheduler_.remove(id);
      continue;
    }
    bool more = false;
    // It may finish (its EOF went out); forget_channel() then took it out.
    size_t n = static_cast<Stream&>(*it->second).emit(allowance, more);
    scheduler_.sent(id, n, more && n > 0);
  }
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

void Tunnel::log_flow() const {
  if (!log_enabled(LogLevel::debug) || state_ != State::up) return;
  log_debug("%s %s flow: %zu bytes queued for the channel (DATA while under %zu), %zu unsent in "
            "the kernel; %zu streams wait for their turn",
            role_ == frame::Role::server ? "client" : "server", peer_.c_str(), queued_output(),
            options_.limits.channel_fill, transport_.kernel_unsent(), scheduler_.size());
  for (const auto& kv : channels_)
    if (kv.second->kind() == Channel::Kind::stream)
      static_cast<const Stream&>(*kv.second).log_flow();
}

void Tunnel::insert_channel(std::unique_ptr<Channel> c) {
  uint32_t id = c->id();
  if (id > highest_seen_) highest_seen_ = id;
  if (c->kind() == Channel::Kind::stream) ++streams_;
  channels_[id] = std::move(c);
}

void Tunnel::forget_channel(uint32_t id) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return;
  if (it->second->kind() == Channel::Kind::stream) --streams_;
  scheduler_.remove(id);
  reaper_.bury(std::move(it->second));
  channels_.erase(it);
}

void Tunnel::transport_eof() {
  lost_before_peer_hello_ = state_ == State::handshake && handshake_.stage() == Handshake::Stage::hello;
  close(state_ == State::up ? "peer closed the channel" : handshake_.eof_reason());
}

// A plain socket's read error during the handshake also gives the likely
// reason.
void Tunnel::transport_error(const std::string& what, bool reading) {
  lost_before_peer_hello_ =
      reading && state_ == State::handshake && handshake_.stage() == Handshake::Stage::hello;
  close("channel error: " + what +
            (reading && state_ != State::up ? " (" + handshake_.eof_reason() + ")" : ""),
        LogLevel::warning);
}

void Tunnel::timeout_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* t = static_cast<Tunnel*>(arg);
  if (t->state_ == State::handshake)
    t->close("handshake not completed within " + std::to_string(t->options_.limits.handshake_timeout_sec) +
             " seconds, dropped", LogLevel::warning);
}

std::string Tunnel::unique_stream_id(uint32_t id) const {
  return hex_encode(peer_session().data(), 4) + "." + hex_encode(handshake_.nonce().data(), 4) +
         "." + std::to_string(id);
}

std::string Tunnel::tls_summary() const {
  std::string s = transport_.tls_summary();
  return s.empty() ? s : ", " + s;
}

void Tunnel::refuse(const std::string& why) {
  close_with_notice(frame::Reason::not_allowed, why, "refused: " + why);
}

void Tunnel::handshake_failed(const std::string& why) {
  close("authentication failed: " + why, LogLevel::warning);
}

void Tunnel::handshake_done() {
  state_ = State::up;
  up_since_ = static_cast<int64_t>(time(nullptr));
  handshake_timer_.reset();
  heartbeat_.start(loop_time_ms(base()), options_.limits.heartbeat_sec * 1000LL);
  if (options_.limits.heartbeat_sec > 0) heartbeat_timer_.start(options_.limits.heartbeat_sec);
  // A first BDP probe while the channel is idle measures the path's round
  // trip before any bulk stream queues bytes ahead of it.
  if (windows_grow()) send_control(frame::Type::ping, 0, probe_.start(loop_time_us(base())));
  handler_.tunnel_up(*this);
}

void Tunnel::protocol_error(const std::string& what) {
  close("protocol error: " + what, LogLevel::warning);
}

void Tunnel::transport_drained() {
  if (closing_) {
    if (queued_output() == 0) close(closing_reason_, closing_level_);
    return;
  }
  fill();
}

void Tunnel::on_read() {
  evbuffer* in = transport_.input();
  if (closing_) {  // nothing the peer says matters any more
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  std::string err;
  int64_t now_ms = loop_time_ms(base());
  frame::Header h;
  while (state_ != State::closed && !closing_ && read_header(in, h, err)) {
    heartbeat_.heard(now_ms);
    if (!dispatch(h, in, err) && state_ != State::closed) {
      protocol_error(err);
      return;
    }
  }
}

bool Tunnel::read_header(evbuffer* in, frame::Header& h, std::string& err) {
  size_t avail = evbuffer_get_length(in);
  if (avail < frame::kHeaderSize) return false;
  uint8_t hb[frame::kHeaderSize];
  evbuffer_copyout(in, hb, sizeof hb);
  if (!frame::decode_header(hb, h, err)) {
    protocol_error(handshake_.bad_header_reason(hb, err));
    return false;
  }
  if (state_ == State::handshake && !handshake_.expects(h.type, err)) {
    protocol_error(err);
    return false;
  }
  if (avail < frame::kHeaderSize + h.length) return false;  // wait for the rest
  evbuffer_drain(in, frame::kHeaderSize);
  return true;
}

bool Tunnel::dispatch(const frame::Header& h, evbuffer* in, std::string& err) {
  if (h.type == frame::Type::data) return dispatch_data(h, in, err);
  if (h.type == frame::Type::datagram) return dispatch_datagram(h, in, err);
  uint8_t payload[frame::kMaxControlPayload];
  evbuffer_remove(in, payload, h.length);
  return dispatch_control(h, payload, err);
}

Channel* Tunnel::lookup(uint32_t id, bool& ok, std::string& err) {
  auto it = channels_.find(id);
  if (it != channels_.end()) {
    ok = true;
    return it->second.get();
  }
  // Ids are handed out in order without gaps (on_open holds the server to
  // it), so anything at or below the highest known id was open once and
  // may legitimately trail its close.
  uint32_t highest = role_ == frame::Role::server ? next_id_ - 1 : highest_seen_;
  ok = id <= highest;
  if (!ok) err = "frame for stream " + std::to_string(id) + " that was never opened";
  return nullptr;
}

bool Tunnel::dispatch_data(const frame::Header& h, evbuffer* in, std::string& err) {
  bool ok;
  Channel* c = lookup(h.stream, ok, err);
  if (!c) {
    evbuffer_drain(in, h.length);
    return ok;
  }
  bytes_in_ += h.length;
  // A BDP probe rides with the data (rtt_probe.h), when windows may grow.
  if (windows_grow()) {
    int64_t now_us = loop_time_us(base());
    if (probe_.due(now_us)) send_control(frame::Type::ping, 0, probe_.start(now_us));
  }
  return c->on_data(in, h.length, err);
}

bool Tunnel::dispatch_datagram(const frame::Header& h, evbuffer* in, std::string& err) {
  bool ok;
  Channel* c = lookup(h.stream, ok, err);
  if (c) c->on_datagram(h.length ? evbuffer_pullup(in, h.length) : nullptr, h.length);
  evbuffer_drain(in, h.length);
  return ok;
}

bool Tunnel::dispatch_control(const frame::Header& h, const uint8_t* p, std::string& err) {
  using frame::Type;
  switch (h.type) {
    case Type::hello: return handshake_.on_hello(p, h.length, err);
    case Type::auth: return handshake_.on_auth(p, h.length, err);
    case Type::ping: return on_ping(h, p);
    case Type::pong:
      if (!probe_.pong(p, h.length, loop_time_us(base())))
        heartbeat_.pong(p, h.length, loop_time_ms(base()));
      return true;
    case Type::close: return on_close(h, p, err);
    case Type::open:
    case Type::udp_open: return on_open(h, p, err);
    case Type::open_ok:
    case Type::open_fail: return on_open_reply(h, p, err);
    case Type::eof: return on_eof(h, err);
    case Type::reset: return on_reset(h, p, err);
    case Type::window: return on_window(h, p, err);
    case Type::expose:
    case Type::expose_reply: return on_expose(h, p, err);
    case Type::request: return on_request(h, p, err);
    case Type::data:
    case Type::datagram:
      break;  // dispatch() takes them
  }
  err = "unexpected frame";
  return false;
}

// A peer that sends PINGs but does not read gets no PONGs: answers would
// pile up without bound.
bool Tunnel::on_ping(const frame::Header& h, const uint8_t* p) {
  if (queued_output() > options_.limits.channel_high) {
    if (pongs_skipped_++ == 0)
      log_warnx("%s %s: not answering PINGs while %zu bytes wait for the peer to read",
                role_ == frame::Role::server ? "client" : "server", peer_.c_str(), queued_output());
    return true;
  }
  send_control(frame::Type::pong, 0, std::string(reinterpret_cast<const char*>(p), h.length));
  return true;
}

bool Tunnel::on_close(const frame::Header& h, const uint8_t* p, std::string& err) {
  frame::Failure f;
  if (!frame::decode_failure(p, h.length, f, err)) return false;
  std::string who = role_ == frame::Role::server ? "the client" : "the server";
  close(who + (state_ == State::up ? " closed the channel: " : " refused the channel: ") +
            printable(f.text),
        LogLevel::warning);
  return true;
}

// REQUEST: server to client, and only when the client asked for them in
// its HELLO. The record stands on its own (it names the mapping and the
// peer), so one for a stream that has closed here since is still
// delivered; one for an id never opened is a protocol error.
bool Tunnel::on_request(const frame::Header& h, const uint8_t* p, std::string& err) {
  if (role_ != frame::Role::client || !options_.opener) {
    err = "REQUEST sent to the server";
    return false;
  }
  if (!has_feature(frame::kHelloFlagRequests)) {
    err = "REQUEST on a channel that did not agree on REQUEST frames in HELLO";
    return false;
  }
  bool ok;
  lookup(h.stream, ok, err);
  if (!ok) return false;
  frame::Request r;
  if (!frame::decode_request(p, h.length, r, err)) return false;
  options_.opener->request_reported(*this, h.stream, r);
  return true;
}

// OPEN and UDP_OPEN: only the server opens, with the next id each time
// (1, 2, 3, ...), and only a client (with a ChannelOpener) takes them.
// Without gaps, every id up to the highest was opened once, so lookup()
// tells a closed id from one never opened by that number alone.
bool Tunnel::on_open(const frame::Header& h, const uint8_t* p, std::string& err) {
  bool udp = h.type == frame::Type::udp_open;
  if (role_ != frame::Role::client || !options_.opener) {
    err = std::string(frame::type_name(h.type)) + " sent to the server";
    return false;
  }
  if (h.stream <= highest_seen_) {
    err = (udp ? "UDP_OPEN reuses id " : "OPEN reuses stream id ") + std::to_string(h.stream);
    return false;
  }
  if (h.stream != highest_seen_ + 1) {
    err = (udp ? "UDP_OPEN skips ids: got " : "OPEN skips stream ids: got ") +
          std::to_string(h.stream) + ", the next is " + std::to_string(highest_seen_ + 1);
    return false;
  }
  if (udp) {
    frame::UdpOpen open;
    if (!frame::decode_udp_open(p, h.length, open, err)) return false;
    highest_seen_ = h.stream;
    options_.opener->udp_open_requested(*this, h.stream, open);
  } else {
    frame::Open open;
    if (!frame::decode_open(p, h.length, open, err)) return false;
    highest_seen_ = h.stream;
    options_.opener->open_requested(*this, h.stream, open);
  }
  return true;
}

// OPEN_OK and OPEN_FAIL: the client answers the server's OPEN or UDP_OPEN.
bool Tunnel::on_open_reply(const frame::Header& h, const uint8_t* p, std::string& err) {
  if (role_ != frame::Role::server) {
    err = std::string(frame::type_name(h.type)) + " sent to the client";
    return false;
  }
  bool ok;
  Channel* c = lookup(h.stream, ok, err);
  if (h.type == frame::Type::open_ok) {
    frame::OpenOk open_ok;
    if (!frame::decode_open_ok(p, h.length, open_ok_with_time(), open_ok, err)) return false;
    return c ? c->on_open_ok(open_ok.window, open_ok.connect_us, err) : ok;
  }
  frame::Failure f;
  if (!frame::decode_failure(p, h.length, f, err)) return false;
  return c ? c->on_open_fail(f, err) : ok;
}

bool Tunnel::on_eof(const frame::Header& h, std::string& err) {
  bool ok;
  Channel* c = lookup(h.stream, ok, err);
  return c ? c->on_eof(err) : ok;
}

bool Tunnel::on_reset(const frame::Header& h, const uint8_t* p, std::string& err) {
  frame::Failure f;
  if (!frame::decode_failure(p, h.length, f, err)) return false;
  bool ok;
  Channel* c = lookup(h.stream, ok, err);
  if (c) c->on_reset(f);
  return ok;
}

bool Tunnel::on_window(const frame::Header& h, const uint8_t* p, std::string& err) {
  uint32_t inc;
  if (!frame::decode_u32(p, h.length, inc, err)) return false;
  bool ok;
  Channel* c = lookup(h.stream, ok, err);
  return c ? c->on_window(inc, err) : ok;
}

// EXPOSE goes to the server, EXPOSE_REPLY to the client, and only when both
// HELLOs set kHelloFlagExpose.
bool Tunnel::on_expose(const frame::Header& h, const uint8_t* p, std::string& err) {
  bool request = h.type == frame::Type::expose;
  if (!has_feature(frame::kHelloFlagExpose)) {
    err = std::string(frame::type_name(h.type)) + " without the EXPOSE feature agreed in HELLO";
    return false;
  }
  if (request != (role_ == frame::Role::server)) {
    err = std::string(frame::type_name(h.type)) + " sent to the " +
          (role_ == frame::Role::server ? "server" : "client");
    return false;
  }
  if (request) {
    frame::Expose e;
    if (!frame::decode_expose(p, h.length, e, err)) return false;
    handler_.expose_requested(*this, e);
  } else {
    frame::ExposeReply r;
    if (!frame::decode_expose_reply(p, h.length, r, err)) return false;
    handler_.expose_replied(*this, r);
  }
  return true;
}
