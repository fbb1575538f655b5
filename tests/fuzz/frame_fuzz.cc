// libFuzzer target for the channel frame codec (src/frame.{h,cc}).
//
// The input is treated as bytes arriving on a channel: frames are decoded
// one after another, as the tunnel does, and each payload goes to the parser
// for its type. Then the whole input goes to every payload parser, and any
// value a parser accepts must encode back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "frame.h"

namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "frame_fuzz: invariant broken: %s\n", what);
  abort();
}

// An exact-size heap copy, so the sanitizer sees any read past the payload
// (a std::string's spare capacity would hide it).
std::unique_ptr<uint8_t[]> exact_copy(const uint8_t* p, size_t n) {
  std::unique_ptr<uint8_t[]> b(new uint8_t[n]);
  if (n) memcpy(b.get(), p, n);
  return b;
}

bool same(const std::string& encoded, const uint8_t* p, size_t n) {
  return encoded.size() == n && (n == 0 || memcmp(encoded.data(), p, n) == 0);
}

// Runs every payload parser on in[0..n). An accepted
// payload must encode back to exactly the input.
void parse_payloads(const uint8_t* in, size_t n) {
  auto buf = exact_copy(in, n);
  const uint8_t* p = buf.get();
  std::string err, enc;

  frame::Hello hello;
  err.clear();
  if (frame::decode_hello(p, n, hello, err)) {
    enc.clear();
    frame::encode_hello(hello, enc);
    if (!same(enc, p, n)) fail("HELLO does not round-trip");
  } else if (err.empty()) {
    fail("decode_hello refused without a reason");
  }

  frame::Open open;
  err.clear();
  if (frame::decode_open(p, n, open, err)) {
    enc.clear();
    frame::encode_open(open, enc);
    if (!same(enc, p, n)) fail("OPEN does not round-trip");
  } else if (err.empty()) {
    fail("decode_open refused without a reason");
  }

  uint32_t v = 0;
  err.clear();
  if (frame::decode_u32(p, n, v, err)) {
    enc.clear();
    frame::encode_u32(v, enc);
    if (!same(enc, p, n)) fail("u32 does not round-trip");
  } else if (err.empty()) {
    fail("decode_u32 refused without a reason");
  }

  frame::Failure failure;
  err.clear();
  if (frame::decode_failure(p, n, failure, err)) {
    enc.clear();
    frame::encode_failure(failure, enc);
    if (!same(enc, p, n)) fail("OPEN_FAIL/RESET does not round-trip");
  } else if (err.empty()) {
    fail("decode_failure refused without a reason");
  }

  frame::Auth auth;
  err.clear();
  if (frame::decode_auth(p, n, auth, err)) {
    enc.clear();
    frame::encode_auth(auth, enc);
    if (!same(enc, p, n)) fail("AUTH does not round-trip");
  } else if (err.empty()) {
    fail("decode_auth refused without a reason");
  }

  frame::UdpOpen udp;
  err.clear();
  if (frame::decode_udp_open(p, n, udp, err)) {
    enc.clear();
    frame::encode_udp_open(udp, enc);
    if (!same(enc, p, n)) fail("UDP_OPEN does not round-trip");
  } else if (err.empty()) {
    fail("decode_udp_open refused without a reason");
  }

  frame::Request request;
  err.clear();
  if (frame::decode_request(p, n, request, err)) {
    enc.clear();
    frame::encode_request(request, enc);
    if (!same(enc, p, n)) fail("REQUEST does not round-trip");
  } else if (err.empty()) {
    fail("decode_request refused without a reason");
  }

  frame::Expose expose;
  err.clear();
  if (frame::decode_expose(p, n, expose, err)) {
    enc.clear();
    frame::encode_expose(expose, enc);
    if (!same(enc, p, n)) fail("EXPOSE does not round-trip");
  } else if (err.empty()) {
    fail("decode_expose refused without a reason");
  }

  frame::ExposeReply reply;
  err.clear();
  if (frame::decode_expose_reply(p, n, reply, err)) {
    enc.clear();
    frame::encode_expose_reply(reply, enc);
    if (!same(enc, p, n)) fail("EXPOSE_REPLY does not round-trip");
  } else if (err.empty()) {
    fail("decode_expose_reply refused without a reason");
  }
}

// The parser the tunnel would use for a frame of this type.
void parse_for_type(const frame::Frame& f) {
  auto buf = exact_copy(reinterpret_cast<const uint8_t*>(f.payload.data()), f.payload.size());
  const uint8_t* p = buf.get();
  size_t n = f.payload.size();
  std::string err;
  switch (f.header.type) {
    case frame::Type::hello: {
      frame::Hello h;
      if (frame::decode_hello(p, n, h, err) && h.tag.size() > frame::kMaxTag)
        fail("HELLO tag too long");
      break;
    }
    case frame::Type::open: {
      frame::Open o;
      if (frame::decode_open(p, n, o, err) && (o.host.empty() || o.host.size() > 255))
        fail("OPEN host length out of range");
      break;
    }
    case frame::Type::open_ok: {
      frame::OpenOk ok;
      for (bool with_time : {false, true})
        if (frame::decode_open_ok(p, n, with_time, ok, err) &&
            (ok.window == 0 || ok.window > frame::kMaxWindow || (n == 4 && ok.connect_us != 0) ||
             (n == 8 && !with_time)))
          fail("OPEN_OK decoded out of range");
      break;
    }
    case frame::Type::window: {
      uint32_t v;
      if (frame::decode_u32(p, n, v, err) && (v == 0 || v > frame::kMaxWindow))
        fail("window out of range");
      break;
    }
    case frame::Type::open_fail:
    case frame::Type::reset: {
      frame::Failure fl;
      if (frame::decode_failure(p, n, fl, err) && fl.text.size() > frame::kMaxReasonText)
        fail("reason text too long");
      break;
    }
    case frame::Type::auth: {
      frame::Auth a;
      if (frame::decode_auth(p, n, a, err) && a.name.size() > frame::kMaxClientName)
        fail("AUTH name too long");
      break;
    }
    case frame::Type::udp_open: {
      frame::UdpOpen u;
      if (frame::decode_udp_open(p, n, u, err) && (u.host.empty() || u.port == 0))
        fail("UDP_OPEN without a host or port");
      break;
    }
    case frame::Type::request: {
      frame::Request r;
      if (frame::decode_request(p, n, r, err) &&
          (r.method.empty() || r.method.size() > frame::kMaxRequestMethod ||
           r.path.size() > frame::kMaxRequestPath || r.peer.size() > frame::kMaxRequestAddress ||
           r.mapping.size() > frame::kMaxRequestAddress || (r.status && r.status < 100) ||
           r.status > 999))
        fail("REQUEST decoded out of range");
      break;
    }
    case frame::Type::expose: {
      frame::Expose e;
      if (frame::decode_expose(p, n, e, err) &&
          (e.target_host.empty() || e.target_port == 0 || (e.udp && e.http)))
        fail("EXPOSE decoded out of range");
      break;
    }
    case frame::Type::expose_reply: {
      frame::ExposeReply r;
      if (frame::decode_expose_reply(p, n, r, err) &&
          (r.text.size() > frame::kMaxReasonText || (r.result == 0) != (r.public_port != 0)))
        fail("EXPOSE_REPLY decoded out of range");
      break;
    }
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 1. A channel's byte stream: frame after frame until need_more or error.
  size_t pos = 0;
  while (pos < size) {
    frame::Frame f;
    size_t used = 0;
    std::string err;
    frame::Result r = frame::decode(data + pos, size - pos, f, used, err);
    if (r == frame::Result::error) {
      if (err.empty()) fail("decode error without a reason");
      break;
    }
    if (r == frame::Result::need_more) {
      if (used != 0) fail("need_more consumed bytes");
      if (size - pos >= frame::kHeaderSize + frame::kMaxPayload) fail("need_more past the largest frame");
      break;
    }
    if (used < frame::kHeaderSize || used > size - pos) fail("used out of range");
    if (f.payload.size() != f.header.length || used != frame::kHeaderSize + f.header.length)
      fail("used does not match the header length");
    if (f.header.length > frame::kMaxPayload) fail("payload over kMaxPayload");
    if (f.header.type == frame::Type::datagram && f.header.length > frame::kMaxDatagram)
      fail("DATAGRAM payload over kMaxDatagram");
    if (f.header.type != frame::Type::data && f.header.type != frame::Type::datagram &&
        f.header.length > frame::kMaxControlPayload)
      fail("control payload over kMaxControlPayload");
    // One byte short of the frame is always need_more, never a frame.
    frame::Frame g;
    size_t used2 = 0;
    if (frame::decode(data + pos, used - 1, g, used2, err) != frame::Result::need_more)
      fail("a truncated frame was not need_more");
    // The frame re-encodes to the same bytes.
    std::string enc;
    frame::encode_frame(f.header.type, f.header.stream, f.payload, enc);
    if (!same(enc, data + pos, used)) fail("frame does not round-trip");
    parse_for_type(f);
    pos += used;
  }

  // 2. Every payload parser on the raw input.
  parse_payloads(data, size);
  return 0;
}
