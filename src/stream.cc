#include "stream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <sys/socket.h>

#include <vector>

#include "address.h"
#include "log.h"
#include "metrics_text.h"
#include "net.h"
#include "socket_reader.h"
#include "tunnel.h"

namespace {
constexpr size_t kLocalReadSize = 256u << 10;  // per read() call
constexpr size_t kLocalWriteSize = 256u << 10;
// A stream reads its socket only while less than this waits for its turn
// on the channel (one read may bring kLocalReadSize more).
constexpr size_t kMaxPending = 256u << 10;

uint64_t now_us() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

const char* state_name(Stream::State s) {
  switch (s) {
    case Stream::State::opening: return "opening";
    case Stream::State::open: return "open";
    case Stream::State::done: return "done";
  }
  return "?";
}
}  // namespace

Stream::Stream(Tunnel& tunnel, uint32_t id, BufferEventPtr local, std::string label)
    : Channel(tunnel, id, Kind::stream),
      local_(std::move(local)),
      label_(std::move(label)),
      recv_(tunnel.limits().stream_window),
      started_(std::chrono::steady_clock::now()) {
  // The bufferevent reports connect()'s outcome (client side) and holds
  // the buffers; reading waits for the open.
  bufferevent_setcb(local_.get(), nullptr, nullptr, event_cb, this);
  bufferevent_disable(local_.get(), EV_READ);
  if (bufferevent_getfd(local_.get()) >= 0) take_over_io();
  output_cb_entry_ = evbuffer_add_cb(bufferevent_get_output(local_.get()), output_cb, this);
}

Stream::~Stream() {
  if (local_ && output_cb_entry_)
    evbuffer_remove_cb_entry(bufferevent_get_output(local_.get()), output_cb_entry_);
}

void Stream::take_over_io() {
  io_.emplace(local_.get(), kLocalReadSize, kLocalWriteSize, static_cast<SocketIo::Owner&>(*this),
              true);
  // Early data that came while the target connected.
  if (evbuffer_get_length(bufferevent_get_output(local_.get()))) io_->schedule_write();
}

void Stream::on_written() {
  // The bufferevent's write callback used to say this (low-water mark 0).
  if (evbuffer_get_length(bufferevent_get_output(local_.get())) == 0) maybe_shutdown_write();
}

void Stream::on_write_error(int err) { on_local_error(err); }

double Stream::age_sec() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void Stream::observe_http() {
  http_ = std::make_unique<HttpObserver>([this](const HttpRecord& r) { log_request(r); });
}

void Stream::feed_http(evbuffer* b, size_t n, bool request) {
  // Usually a few chunks; a longer chain takes the slow path.
  evbuffer_iovec fixed[8];
  std::vector<evbuffer_iovec> more;
  evbuffer_iovec* v = fixed;
  int k = evbuffer_peek(b, static_cast<ev_ssize_t>(n), nullptr, fixed, 8);
  if (k > 8) {
    more.resize(static_cast<size_t>(k));
    v = more.data();
    k = evbuffer_peek(b, static_cast<ev_ssize_t>(n), nullptr, v, k);
  }
  uint64_t now = now_us();
  for (int i = 0; i < k && n > 0 && http_->active(); ++i) {
    size_t len = std::min(n, v[i].iov_len);
    const char* p = static_cast<const char*>(v[i].iov_base);
    if (request)
      http_->request_bytes(p, len, now);
    else
      http_->response_bytes(p, len, now);
    n -= len;
  }
  http_done();
}

// Once it reads HTTP no more (degraded, or upgraded to another protocol),
// the stream is logged as TCP only.
void Stream::http_done() {
  if (!http_ || http_->active()) return;
  if (http_->degraded())
    log_debug("stream %u: not HTTP any more (%s), logged as TCP (%s)", id_, http_->why().c_str(),
              label_.c_str());
  http_.reset();
}

void Stream::log_request(const HttpRecord& r) {
  if (log_enabled(LogLevel::info))
    log_info("http %s %s %s", mapping_name_.c_str(), peer_name_.c_str(),
             format_request(r.method, r.path, r.path_truncated, r.status, r.bytes, r.latency_us)
                 .c_str());
  if (!tunnel_.has_feature(frame::kHelloFlagRequests)) return;
  frame::Request q;
  q.status = static_cast<uint16_t>(r.status);
  q.bytes = r.bytes;
  q.latency_us = static_cast<uint32_t>(std::min<uint64_t>(r.latency_us, UINT32_MAX));
  q.method = r.method;
  q.path = r.path;
  q.peer = peer_name_;
  q.mapping = mapping_name_;
  std::string payload;
  frame::encode_request(q, payload);
  tunnel_.send_control(frame::Type::request, id_, payload);
}

void Stream::request_open(const std::string& host, uint16_t port, const frame::ProxyBlock& proxy) {
  // Early data: read and forward the first bytes while the client connects.
  send_ = SendCredit(frame::kEarlyWindow);
  early_ = true;
  frame::Open open;
  open.window = recv_.window();
  open.port = port;
  open.host = host;
  open.proxy = proxy;
  std::string payload;
  frame::encode_open(open, payload);
  tunnel_.send_control(frame::Type::open, id_, payload);
  log_debug("stream %u: OPEN %s sent (%s)", id_, open.host.c_str(), label_.c_str());
  if (int secs = tunnel_.limits().open_timeout_sec) {
    open_timer_.reset(evtimer_new(tunnel_.base(), open_timeout_cb, this));
    timeval tv{secs, 0};
    evtimer_add(open_timer_.get(), &tv);
  }
  pump();
  // A client usually sends its first bytes as soon as it connects, so they
  // are often here already: reading them now puts them in the channel's
  // output beside the OPEN (one write, one wake-up of the client) instead
  // of one loop turn later.
  if (reading_) on_readable();
}

void Stream::open_timeout_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* s = static_cast<Stream*>(arg);
  if (s->state_ != State::opening) return;
  int secs = s->tunnel_.limits().open_timeout_sec;
  log_notice("stream %u: no OPEN_OK or OPEN_FAIL within %d s (OPEN_TIMEOUT), closing it (%s)",
             s->id_, secs, s->label_.c_str());
  if (s->counters_) s->counters_->reject("timeout");
  // RESET releases the id on the client too, should it answer late.
  s->reset("no answer to OPEN within " + std::to_string(secs) + " s (OPEN_TIMEOUT)");
}

bool Stream::on_open_ok(uint32_t window, uint32_t connect_us, std::string& err) {
  if (state_ != State::opening) {
    err = "OPEN_OK for stream " + std::to_string(id_) + " that is not opening";
    return false;
  }
  if (window < frame::kEarlyWindow) {
    err = "OPEN_OK window " + std::to_string(window) + " below the early-data window";
    return false;
  }
  open_timer_.reset();
  if (connect_us && counters_) counters_->connect_seconds.observe(connect_us / 1e6);
  log_debug("stream %u: open (%s)", id_, label_.c_str());
  // The window includes the early-data credit we started with.
  if (window > frame::kEarlyWindow) send_.grant(window - frame::kEarlyWindow);
  become_open();
  return true;
}

bool Stream::on_open_fail(const frame::Failure& f, std::string& err) {
  if (state_ != State::opening) {
    err = "OPEN_FAIL for stream " + std::to_string(id_) + " that is not opening";
    return false;
  }
  if (counters_) counters_->reject(rejected_reason(f.reason));
  finish(std::string("target failed: ") + frame::reason_name(f.reason) +
             (f.text.empty() ? "" : " (" + printable(f.text) + ")"),
         false, false);
  return true;
}

void Stream::connect_target(const TargetContext& ctx, const std::string& host, uint16_t port,
                            uint32_t send_window) {
  send_ = SendCredit(send_window);
  // docs/PROTOCOL.md: 65,536 bytes of early data until OPEN_OK, not a
  // whole window per stream the server may never let us connect.
  recv_.limit_to_early(frame::kEarlyWindow);
  targets_ = &ctx;
  if (ctx.counters) counters_ = ctx.counters;
  connecting_ = true;
  resolution_.start(ctx.dns, *ctx.policy, host, port, SOCK_STREAM,
                    [this, host, port](const ResolvedTarget& r) { on_resolved(host, port, r); });
}

void Stream::send_first(const std::string& bytes) {
  // The output buffer is empty: OPEN comes before any DATA, so early data
  // queues behind these bytes, and take_over_io() writes them first.
  evbuffer_add(bufferevent_get_output(local_.get()), bytes.data(), bytes.size());
  first_left_ += bytes.size();
}

void Stream::on_resolved(const std::string& host, uint16_t port, const ResolvedTarget& r) {
  if (state_ != State::opening) return;
  if (r.outcome == ResolvedTarget::Outcome::dns_error) {
    on_target_failed(ConnectError{false, 0, r.dns_error});
    return;
  }
  const auto* sa = reinterpret_cast<const sockaddr*>(&r.addr);
  if (r.outcome == ResolvedTarget::Outcome::not_allowed) {
    log_warnx("server %s asked for %s (tcp, id %u): refused, %s resolved to %s (%s), not allowed "
              "by --allow (%s)",
              tunnel_.peer().c_str(), format_host_port(printable(host), port).c_str(), id_,
              printable(host).c_str(), format_sockaddr(sa).c_str(), r.kind ? r.kind : "?",
              targets_->policy->str().c_str());
    if (counters_) counters_->reject("not_allowed");
    tunnel_.send_failure(frame::Type::open_fail, id_, frame::Reason::not_allowed,
                         kResolvedNotAllowedText);
    finish(std::string("cannot connect target: ") + kResolvedNotAllowedText, false, false);
    return;
  }
  // A write timeout bounds connect(); it is cleared once connected.
  timeval tv{targets_->connect_timeout_sec, 0};
  bufferevent_set_timeouts(local_.get(), nullptr, &tv);
  if (bufferevent_socket_connect(local_.get(), sa, static_cast<int>(r.len)) != 0) {
    // Immediate failure: the event callback may not run, answer now.
    on_target_failed(ConnectError{false, EVUTIL_SOCKET_ERROR(), 0});
  }
}

void Stream::release_pending() {
  if (pending_ && targets_ && targets_->pending) targets_->pending->remove(pending_);
  pending_ = 0;
}

void Stream::on_target_connected() {
  evutil_socket_t fd = bufferevent_getfd(local_.get());
  set_nodelay(fd);
  bufferevent_set_timeouts(local_.get(), nullptr, nullptr);
  connecting_ = false;
  // The early data now counts as ordinary output, bounded by the window.
  release_pending();
  take_over_io();
  // Only the info and debug lines name the local address: skip the
  // getsockname() per connection when they are not logged.
  if (log_enabled(LogLevel::info)) label_ += " via " + local_name(fd);
  double connect_sec = age_sec();
  frame::OpenOk ok;
  ok.window = recv_.window();
  ok.connect_us = static_cast<uint32_t>(std::min(connect_sec * 1e6, 4294967295.0));
  std::string payload;
  frame::encode_open_ok(ok, tunnel_.open_ok_with_time(), payload);
  recv_.announce();
  tunnel_.send_control(frame::Type::open_ok, id_, payload);
  if (targets_ && targets_->connect_seconds) targets_->connect_seconds->observe(connect_sec);
  log_debug("stream %u: connected (%s)", id_, label_.c_str());
  become_open();
}

void Stream::on_target_failed(const ConnectError& e) {
  if (state_ != State::opening) return;
  frame::Failure f;
  int sock_err = e.sock_err;
  if (e.dns_err) {
    f.reason = static_cast<uint8_t>(frame::Reason::dns);
    f.text = evutil_gai_strerror(e.dns_err);
  } else if (e.timeout) {
    f.reason = static_cast<uint8_t>(frame::Reason::timeout);
    f.text = "connect timed out";
  } else {
    switch (sock_err) {
      case ECONNREFUSED: f.reason = static_cast<uint8_t>(frame::Reason::refused); break;
      case ENETUNREACH:
      case EHOSTUNREACH: f.reason = static_cast<uint8_t>(frame::Reason::unreachable); break;
      case ETIMEDOUT: f.reason = static_cast<uint8_t>(frame::Reason::timeout); break;
      default: f.reason = static_cast<uint8_t>(frame::Reason::other); break;
    }
    f.text = evutil_socket_error_to_string(sock_err);
  }
  if (counters_) counters_->reject(rejected_reason(f.reason));
  tunnel_.send_failure(frame::Type::open_fail, id_, static_cast<frame::Reason>(f.reason), f.text);
  finish(std::string("cannot connect target: ") + f.text, false, false);
}

void Stream::become_open() {
  state_ = State::open;
  maybe_shutdown_write();  // an EOF that came before the connect completed
  if (state_ == State::open) pump();
}

void Stream::set_reading(bool on) {
  if (on == reading_) return;
  reading_ = on;
  if (io_) io_->set_reading(on);
}

void Stream::on_readable() {
  // When the peer's FIN came with the bytes (a response, then close),
  // reading on at once finds the EOF now, so the last DATA and EOF leave in
  // the same write to the channel instead of one loop turn apart.
  while (can_send() && in_.open()) {
    size_t got;
    switch (io_->read(got)) {
      case ReadResult::data:
        pump();
        if (io_ && reading_ && io_->peer_closed()) continue;
        return;
      case ReadResult::again:
        pump();
        return;
      case ReadResult::eof:
        on_local_eof();
        return;
      case ReadResult::error:
        on_local_error(errno);
        return;
    }
  }
}

void Stream::set_rate_limits(RateLimits limits) {
  rate_ = std::move(limits);
  if (!rate_.empty() && !rate_timer_) rate_timer_.reset(evtimer_new(tunnel_.base(), rate_timer_cb, this));
}

void Stream::rate_timer_cb(evutil_socket_t, short, void* arg) noexcept {
  auto* s = static_cast<Stream*>(arg);
  s->pump();
  s->return_credit(true);
}

size_t Stream::rate_allowance(bool up, size_t want) {
  if (rate_.empty() || want == 0) return want;
  int64_t now = loop_time_ms(tunnel_.base());
  uint64_t n = std::min<uint64_t>(want, rate_.available(up, now));
  if (n == 0 && !evtimer_pending(rate_timer_.get(), nullptr)) {
    int64_t ms = rate_.wait_ms(up, want, now);
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    evtimer_add(rate_timer_.get(), &tv);
  }
  return static_cast<size_t>(n);
}

bool Stream::sendable(bool& rate_limited) {
  rate_limited = false;
  if (!can_send() || in_.closed()) return false;
  size_t len = evbuffer_get_length(bufferevent_get_input(local_.get()));
  if (len == 0 || send_.available() == 0) return false;
  rate_limited = rate_allowance(true, std::min(len, send_.available())) == 0;
  return !rate_limited;
}

void Stream::pump() {
  if (!can_send() || in_.closed()) return;
  bool rate_limited;
  if (sendable(rate_limited)) tunnel_.ready_to_send(id_);
  settle(rate_limited);
}

size_t Stream::emit(size_t allowance, bool& more) {
  more = false;
  if (!can_send() || in_.closed()) return 0;
  evbuffer* in = bufferevent_get_input(local_.get());
  size_t n = std::min({evbuffer_get_length(in), send_.available(),
                       static_cast<size_t>(frame::kMaxPayload), allowance});
  n = rate_allowance(true, n);
  if (n > 0) {
    if (http_) feed_http(in, n, true);
    tunnel_.send_data(id_, in, n);
    send_.consume(n);
    if (!rate_.empty()) rate_.take(true, n);
    bytes_to_peer_ += n;
    if (counters_) counters_->from_local += n;
  }
  bool rate_limited;
  more = sendable(rate_limited);
  settle(rate_limited);  // may finish the stream (its EOF)
  return n;
}

void Stream::settle(bool rate_limited) {
  if (!can_send() || in_.closed()) return;
  size_t len = evbuffer_get_length(bufferevent_get_input(local_.get()));
  if (len == 0 && !in_.open()) {
    // Every byte is in the channel's output: EOF goes behind them.
    tunnel_.send_control(frame::Type::eof, id_, "");
    in_.set(Half::State::closed, id_);
    set_reading(false);
    maybe_finish();
    return;
  }
  // Read ahead only while there is credit (and rate) to send it with, and
  // while what waits for the channel is under the bound.
  set_reading(in_.open() && !rate_limited && send_.available() > len && len < kMaxPending);
}

void Stream::log_flow() const {
  if (!log_enabled(LogLevel::debug)) return;
  evbuffer* in = local_ ? bufferevent_get_input(local_.get()) : nullptr;
  evbuffer* out = local_ ? bufferevent_get_output(local_.get()) : nullptr;
  log_debug("stream %u flow: %s, input %s, output %s; credit %zu, %zu read and not sent, "
            "reading %s%s; peer credit %u, %zu held for the local socket (%zu unwritten%s), "
            "%u owed (%s)",
            id_, state_name(state_), Half::name(in_.state()), Half::name(out_.state()),
            send_.available(), in ? evbuffer_get_length(in) : 0, reading_ ? "on" : "off",
            tunnel_.waits_for_turn(id_) ? ", waits for its turn on the channel" : "", recv_.peer_credit(),
            recv_.buffered(), out ? evbuffer_get_length(out) : 0,
            io_ && io_->write_waiting() ? ", socket full" : "", recv_.owed(), label_.c_str());
}

bool Stream::on_data(evbuffer* src, size_t n, std::string& err) {
  // While the target connects, early data waits in the output buffer.
  if (state_ == State::done || (state_ == State::opening && !connecting_) || !out_.open()) {
    err = "DATA on stream " + std::to_string(id_) + " in state " + state_name(state_) +
          (!out_.open() ? " after EOF" : "");
    return false;
  }
  if (!recv_.on_data(n)) {
    if (recv_.early())
      err = "stream " + std::to_string(id_) + ": early data beyond the " +
            std::to_string(frame::kEarlyWindow) + "-byte window (" +
            std::to_string(recv_.buffered() + n) + " bytes before OPEN_OK)";
    else
      err = "stream " + std::to_string(id_) + ": peer sent " + std::to_string(n) +
            " bytes with only " + std::to_string(recv_.peer_credit()) + " bytes of credit";
    return false;
  }
  if (connecting_ && targets_ && targets_->pending) {
    // Client: held until the target connects, counted across all streams.
    if (!targets_->pending->reserve(n)) {
      evbuffer_drain(src, n);
      std::string why = "early data held for targets still connecting would pass "
                        "--max-pending-bytes (" +
                        std::to_string(targets_->pending->cap()) + " bytes)";
      if (targets_->warn_limit)
        targets_->warn_limit("server " + tunnel_.peer() + ": stream " + std::to_string(id_) +
                             " (" + label_ + ") reset: " + why);
      finish(why, true, true, frame::Reason::resource_limit);
      return true;
    }
    pending_ += n;
  }
  bytes_from_peer_ += n;
  if (counters_) counters_->to_local += n;
  if (BufferBudget* b = tunnel_.limits().budget) b->add(n);
  if (http_) feed_http(src, n, false);
  evbuffer_remove_buffer(src, bufferevent_get_output(local_.get()), n);
  if (io_) io_->schedule_write();  // connecting: take_over_io() will
  return true;
}

bool Stream::on_eof(std::string& err) {
  if (state_ == State::done || (state_ == State::opening && !connecting_) || !out_.open()) {
    err = "EOF on stream " + std::to_string(id_) + " in state " + state_name(state_) +
          (!out_.open() ? " twice" : "");
    return false;
  }
  out_.set(Half::State::draining, id_);
  if (http_) {
    http_->response_eof(now_us());
    http_done();
  }
  maybe_shutdown_write();
  return true;
}

bool Stream::on_window(uint32_t increment, std::string& err) {
  if (state_ != State::open) {
    err = "WINDOW on stream " + std::to_string(id_) + " in state " + state_name(state_);
    return false;
  }
  if (!send_.grant(increment)) {
    err = "stream " + std::to_string(id_) + ": WINDOW overflows the maximum credit";
    return false;
  }
  pump();
  return true;
}

void Stream::on_reset(const frame::Failure& f) {
  finish(std::string("reset by peer: ") + frame::reason_name(f.reason) +
             (f.text.empty() ? "" : " (" + printable(f.text) + ")"),
         true, false);
}

void Stream::abort(const std::string& reason) { finish(reason, true, false); }

void Stream::reset(const std::string& reason) { finish(reason, true, true); }

void Stream::maybe_shutdown_write() {
  if (out_.state() != Half::State::draining || state_ != State::open) return;
  if (evbuffer_get_length(bufferevent_get_output(local_.get())) != 0) return;
  out_.set(Half::State::closed, id_);
  // With the input at EOF the stream finishes now, and the close sends the
  // FIN (nothing unread is left to turn it into an RST): no shutdown call.
  if (!in_.closed()) shutdown(bufferevent_getfd(local_.get()), SHUT_WR);
  maybe_finish();
}

void Stream::maybe_finish() {
  if (in_.closed() && out_.closed()) finish("closed", false, false);
}

void Stream::on_output_drained(size_t n) {
  // send_first() bytes were never DATA: no credit or budget for them.
  size_t first = std::min(n, first_left_);
  first_left_ -= first;
  n -= first;
  if (state_ != State::open || n == 0) return;
  size_t before = recv_.buffered();
  recv_.on_delivered(n);
  if (BufferBudget* b = tunnel_.limits().budget) b->remove(before - recv_.buffered());
  tune_window(n);
  return_credit(evbuffer_get_length(bufferevent_get_output(local_.get())) == 0);
}

void Stream::return_credit(bool flush) {
  // After the peer's EOF no more data comes, so credit is pointless.
  if (!out_.open() || state_ != State::open) return;
  BufferBudget* b = tunnel_.limits().budget;
  if (b && b->withhold(recv_.buffered())) {
    b->wait(this);
    return;
  }
  // Past the cap a stream whose peer keeps up stays live, but with at most
  // the early window outstanding: a peer that stops reading can then pin
  // at most that much more (beyond the kernel's buffer) before it holds
  // bytes and waits.
  uint32_t limit = UINT32_MAX;
  if (b && b->over())
    limit = recv_.peer_credit() < frame::kEarlyWindow ? frame::kEarlyWindow - recv_.peer_credit() : 0;
  // RATE_LIMIT: the client gets credit (and so sends) no faster than allowed.
  if (!rate_.empty()) limit = static_cast<uint32_t>(rate_allowance(false, limit));
  if (uint32_t inc = recv_.take_update(flush, limit)) {
    if (!rate_.empty()) rate_.take(false, inc);
    std::string payload;
    frame::encode_u32(inc, payload);
    tunnel_.send_control(frame::Type::window, id_, payload);
  }
}

void Stream::tune_window(size_t n) {
  if (!out_.open()) return;
  uint32_t window = recv_.window();
  uint64_t want = tuner_.on_delivered(n, loop_time_us(tunnel_.base()), tunnel_.data_rtt_us(),
                                      tunnel_.path_rtt_us(), window);
  if (want <= window) return;
  // MAX_BUFFERED_BYTES: no growth past the cap, none beyond half of what
  // is left under it or beyond what all grown windows together may still
  // take (half the cap), and no window above a quarter of it.
  BufferBudget* b = tunnel_.limits().budget;
  uint64_t outside = UINT64_MAX;
  if (b) {
    if (b->over()) return;
    uint64_t room = std::min<uint64_t>((b->cap() - b->used()) / 2, b->growth_room());
    outside = std::min<uint64_t>(b->cap() / 4, window + room);
  }
  uint32_t next = tunnel_.window_pool().grow(window, want, outside);
  if (next <= window) return;
  if (b) b->add_growth(next - window);
  recv_.grow(next - window);
  tuner_.grew();
  log_debug("stream %u: window %u -> %u (round trip %lld us, path %lld us)", id_, window, next,
            static_cast<long long>(tunnel_.data_rtt_us()),
            static_cast<long long>(tunnel_.path_rtt_us()));
}

void Stream::budget_available() {
  if (local_) return_credit(evbuffer_get_length(bufferevent_get_output(local_.get())) == 0);
}

// The bufferevent reports only the client's connect(): once connected, the
// socket's reads and writes are ours (take_over_io).
void Stream::on_connect_event(short what) {
  if (state_ != State::opening || !connecting_) return;
  if (what & BEV_EVENT_CONNECTED)
    on_target_connected();
  else
    on_target_failed(ConnectError{(what & BEV_EVENT_TIMEOUT) != 0, EVUTIL_SOCKET_ERROR(), 0});
}

void Stream::on_local_eof() {
  if (!can_send()) return;
  in_.set(Half::State::draining, id_);
  pump();
}

void Stream::on_local_error(int err) {
  if (!can_send()) return;
  // Send what was read before the error (as far as credit allows) at
  // once, then abort the peer's side.
  bool more = true;
  while (more && state_ != State::done && emit(SIZE_MAX, more) > 0) {
  }
  if (state_ == State::done) return;
  finish(std::string("local socket error: ") + evutil_socket_error_to_string(err), true, true);
}

void Stream::finish(const std::string& reason, bool abortive, bool send_reset,
                    frame::Reason reset_reason) {
  if (state_ == State::done) return;
  state_ = State::done;
  open_timer_.reset();
  rate_timer_.reset();
  uint32_t base = tunnel_.limits().stream_window;
  if (BufferBudget* b = tunnel_.limits().budget) {
    b->cancel(this);
    b->remove(recv_.buffered());  // dropped with the socket
    if (recv_.window() > base) b->remove_growth(recv_.window() - base);
  }
  tunnel_.window_pool().release(recv_.window());
  resolution_.cancel();
  release_pending();
  if (http_) {  // requests left without a (whole) response
    http_->finish(now_us());
    http_.reset();
  }
  if (send_reset) tunnel_.send_failure(frame::Type::reset, id_, reset_reason, reason);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  log_info("stream %u closed: %s, sent %llu bytes, received %llu bytes, %.3f s: %s", id_,
           label_.c_str(), static_cast<unsigned long long>(bytes_to_peer_),
           static_cast<unsigned long long>(bytes_from_peer_), secs, reason.c_str());
  if (local_) {
    if (output_cb_entry_) {
      evbuffer_remove_cb_entry(bufferevent_get_output(local_.get()), output_cb_entry_);
      output_cb_entry_ = nullptr;
    }
    if (abortive) set_abortive_close(bufferevent_getfd(local_.get()));
    io_.reset();
    local_.reset();  // safe inside our own callback: libevent holds a reference
  }
  lease_.reset();
  tunnel_.forget_channel(id_);
}

void Stream::event_cb(bufferevent*, short what, void* arg) noexcept {
  static_cast<Stream*>(arg)->on_connect_event(what);
}

void Stream::output_cb(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept {
  if (info->n_deleted) static_cast<Stream*>(arg)->on_output_drained(info->n_deleted);
}
