// Unit tests for the channel frame codec (src/frame.{h,cc}, docs/PROTOCOL.md).
#include "frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using frame::Header;
using frame::Result;
using frame::Type;

namespace {

const Type kAllTypes[] = {Type::hello, Type::open,  Type::open_ok, Type::open_fail,
                          Type::data,  Type::eof,   Type::reset,   Type::window,
                          Type::ping,  Type::pong,  Type::auth,    Type::udp_open,
                          Type::datagram, Type::close, Type::expose, Type::expose_reply, Type::request};

bool is_channel_type(Type t) {
  return t == Type::hello || t == Type::ping || t == Type::pong || t == Type::auth ||
         t == Type::close || t == Type::expose || t == Type::expose_reply;
}

// A length the type allows (the smallest one).
uint32_t valid_length(Type t) {
  switch (t) {
    case Type::hello: return 57;
    case Type::auth: return 33;
    case Type::udp_open: return 4;
    case Type::datagram: return 0;
    case Type::open: return 8;
    case Type::open_ok: return 4;
    case Type::open_fail: return 1;
    case Type::data: return 1;
    case Type::eof: return 0;
    case Type::reset: return 1;
    case Type::window: return 4;
    case Type::ping: return 8;
    case Type::pong: return 8;
    case Type::close: return 1;
    case Type::expose: return 12;
    case Type::expose_reply: return 7;
    case Type::request: return 20;
  }
  return 0;
}

// Raw 12-byte header, so tests can build headers the encoder never writes.
std::vector<uint8_t> raw_header(uint8_t type, uint8_t flags, uint16_t reserved, uint32_t stream,
                                uint32_t length) {
  return {type,
          flags,
          static_cast<uint8_t>(reserved >> 8),
          static_cast<uint8_t>(reserved),
          static_cast<uint8_t>(stream >> 24),
          static_cast<uint8_t>(stream >> 16),
          static_cast<uint8_t>(stream >> 8),
          static_cast<uint8_t>(stream),
          static_cast<uint8_t>(length >> 24),
          static_cast<uint8_t>(length >> 16),
          static_cast<uint8_t>(length >> 8),
          static_cast<uint8_t>(length)};
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

bool header_ok(const std::vector<uint8_t>& raw, Header& h, std::string& err) {
  EXPECT_EQ(raw.size(), frame::kHeaderSize);
  return frame::decode_header(raw.data(), h, err);
}

bool header_ok(const std::vector<uint8_t>& raw) {
  Header h;
  std::string err;
  bool ok = header_ok(raw, h, err);
  if (!ok) {
    EXPECT_FALSE(err.empty()) << "a refused header must say why";
  }
  return ok;
}

std::string open_payload(uint32_t window, uint16_t port, const std::string& host) {
  std::string out;
  frame::encode_open(frame::Open{window, port, host, {}}, out);
  return out;
}

std::string u32_payload(uint32_t v) {
  std::string out;
  frame::encode_u32(v, out);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Header encoding

TEST(FrameHeader, EncodesBigEndianWithZeroFlagsAndReserved) {
  uint8_t out[frame::kHeaderSize];
  memset(out, 0xaa, sizeof out);
  frame::encode_header(Header{Type::data, 0x01020304u, 0x00010000u}, out);
  const uint8_t expect[frame::kHeaderSize] = {0x05, 0, 0, 0, 0x01, 0x02, 0x03, 0x04,
                                              0x00, 0x01, 0x00, 0x00};
  EXPECT_EQ(0, memcmp(out, expect, sizeof out));
}

TEST(FrameHeader, TypeValuesMatchProtocolTable) {
  EXPECT_EQ(0x01, static_cast<int>(Type::hello));
  EXPECT_EQ(0x02, static_cast<int>(Type::open));
  EXPECT_EQ(0x03, static_cast<int>(Type::open_ok));
  EXPECT_EQ(0x04, static_cast<int>(Type::open_fail));
  EXPECT_EQ(0x05, static_cast<int>(Type::data));
  EXPECT_EQ(0x06, static_cast<int>(Type::eof));
  EXPECT_EQ(0x07, static_cast<int>(Type::reset));
  EXPECT_EQ(0x08, static_cast<int>(Type::window));
  EXPECT_EQ(0x09, static_cast<int>(Type::ping));
  EXPECT_EQ(0x0a, static_cast<int>(Type::pong));
  EXPECT_EQ(0x0e, static_cast<int>(Type::close));
  EXPECT_EQ(0x0f, static_cast<int>(Type::expose));
  EXPECT_EQ(0x10, static_cast<int>(Type::expose_reply));
  EXPECT_EQ(0x11, static_cast<int>(Type::request));
  EXPECT_EQ(12u, frame::kHeaderSize);
  EXPECT_EQ(65536u, frame::kMaxPayload);
}

TEST(FrameHeader, RoundTripEveryType) {
  for (Type t : kAllTypes) {
    SCOPED_TRACE(frame::type_name(t));
    uint32_t stream = is_channel_type(t) ? 0 : 0xdeadbeefu;
    Header in{t, stream, valid_length(t)};
    uint8_t buf[frame::kHeaderSize];
    frame::encode_header(in, buf);
    Header out;
    out.type = t == Type::data ? Type::eof : Type::data;  // something different
    out.stream = 12345;
    out.length = 777;
    std::string err;
    ASSERT_TRUE(frame::decode_header(buf, out, err)) << err;
    EXPECT_EQ(in.type, out.type);
    EXPECT_EQ(in.stream, out.stream);
    EXPECT_EQ(in.length, out.length);
  }
}

TEST(FrameHeader, RoundTripLengthExtremesPerType) {
  struct Case {
    Type type;
    uint32_t min, max;
  } cases[] = {
      {Type::hello, 57, 121},     {Type::open, 8, 262 + 167},  {Type::open_ok, 4, 8},
      {Type::auth, 33, 97},       {Type::udp_open, 4, 258 + 167}, {Type::datagram, 0, 65507},
      {Type::open_fail, 1, 201},  {Type::data, 1, 65536}, {Type::eof, 0, 0},
      {Type::reset, 1, 201},      {Type::window, 4, 4},  {Type::ping, 8, 8},
      {Type::pong, 8, 8},         {Type::close, 1, 201},
      {Type::expose, 12, 266},    {Type::expose_reply, 7, 207},
      {Type::request, 20, 19 + 16 + 256 + 128},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(frame::type_name(c.type));
    uint32_t stream = is_channel_type(c.type) ? 0 : 1;
    for (uint32_t len : {c.min, c.max}) {
      uint8_t buf[frame::kHeaderSize];
      frame::encode_header(Header{c.type, stream, len}, buf);
      Header h;
      std::string err;
      EXPECT_TRUE(frame::decode_header(buf, h, err)) << "length " << len << ": " << err;
      EXPECT_EQ(len, h.length);
    }
    // One below the minimum and one above the maximum are refused.
    if (c.min > 0) {
      EXPECT_FALSE(header_ok(raw_header(static_cast<uint8_t>(c.type), 0, 0, stream, c.min - 1)));
    }
    EXPECT_FALSE(header_ok(raw_header(static_cast<uint8_t>(c.type), 0, 0, stream, c.max + 1)));
  }
}

TEST(FrameHeader, StreamIdZeroAndMaxRoundTrip) {
  for (uint32_t id : {1u, 2u, 0x7fffffffu, 0xffffffffu}) {
    uint8_t buf[frame::kHeaderSize];
    frame::encode_header(Header{Type::eof, id, 0}, buf);
    Header h;
    std::string err;
    ASSERT_TRUE(frame::decode_header(buf, h, err)) << err;
    EXPECT_EQ(id, h.stream);
  }
}

TEST(FrameHeader, TypeAndReasonNames) {
  EXPECT_STREQ("HELLO", frame::type_name(Type::hello));
  EXPECT_STREQ("OPEN_FAIL", frame::type_name(Type::open_fail));
  EXPECT_STREQ("WINDOW", frame::type_name(Type::window));
  EXPECT_STREQ("PONG", frame::type_name(Type::pong));
  EXPECT_STREQ("connection refused", frame::reason_name(1));
  EXPECT_STREQ("resource limit", frame::reason_name(7));
  EXPECT_STREQ("unknown reason", frame::reason_name(0));
  EXPECT_STREQ("unknown reason", frame::reason_name(200));
}

// ---------------------------------------------------------------------------
// Header errors

TEST(FrameHeaderError, UnknownTypes) {
  for (int type : {0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff}) {
    SCOPED_TRACE(type);
    Header h;
    std::string err;
    EXPECT_FALSE(header_ok(raw_header(static_cast<uint8_t>(type), 0, 0, 1, 4), h, err));
    EXPECT_NE(std::string::npos, err.find("unknown frame type")) << err;
  }
}

TEST(FrameHeaderError, UnknownTypeMessageNamesTheType) {
  Header h;
  std::string err;
  EXPECT_FALSE(header_ok(raw_header(0xab, 0, 0, 1, 4), h, err));
  EXPECT_NE(std::string::npos, err.find("0xab")) << err;
}

TEST(FrameHeaderError, NonZeroFlagsOrReserved) {
  for (Type t : kAllTypes) {
    SCOPED_TRACE(frame::type_name(t));
    uint8_t ty = static_cast<uint8_t>(t);
    uint32_t stream = is_channel_type(t) ? 0 : 1;
    uint32_t len = valid_length(t);
    ASSERT_TRUE(header_ok(raw_header(ty, 0, 0, stream, len)));
    EXPECT_FALSE(header_ok(raw_header(ty, 0x01, 0, stream, len)));
    EXPECT_FALSE(header_ok(raw_header(ty, 0x80, 0, stream, len)));
    EXPECT_FALSE(header_ok(raw_header(ty, 0, 0x0001, stream, len)));
    EXPECT_FALSE(header_ok(raw_header(ty, 0, 0x0100, stream, len)));
    EXPECT_FALSE(header_ok(raw_header(ty, 0xff, 0xffff, stream, len)));
  }
}

TEST(FrameHeaderError, OversizedLength) {
  EXPECT_TRUE(header_ok(raw_header(0x05, 0, 0, 1, frame::kMaxPayload)));
  EXPECT_FALSE(header_ok(raw_header(0x05, 0, 0, 1, frame::kMaxPayload + 1)));
  for (Type t : kAllTypes) {
    SCOPED_TRACE(frame::type_name(t));
    uint32_t stream = is_channel_type(t) ? 0 : 1;
    EXPECT_FALSE(header_ok(raw_header(static_cast<uint8_t>(t), 0, 0, stream, 0xffffffffu)));
    EXPECT_FALSE(header_ok(raw_header(static_cast<uint8_t>(t), 0, 0, stream, 0x80000000u)));
  }
}

TEST(FrameHeaderError, ZeroLengthData) {
  Header h;
  std::string err;
  EXPECT_FALSE(header_ok(raw_header(0x05, 0, 0, 1, 0), h, err));
  EXPECT_NE(std::string::npos, err.find("length")) << err;
}

TEST(FrameHeaderError, BadLengthForFixedSizeTypes) {
  // HELLO/PING/PONG: exactly 8; WINDOW: exactly 4; OPEN_OK: 4..8 (4 or 8,
  // decode_open_ok); EOF: exactly 0.
  for (uint32_t len : {0u, 1u, 7u, 9u, 16u}) {
    EXPECT_FALSE(header_ok(raw_header(0x01, 0, 0, 0, len))) << "HELLO " << len;
    EXPECT_FALSE(header_ok(raw_header(0x09, 0, 0, 0, len))) << "PING " << len;
    EXPECT_FALSE(header_ok(raw_header(0x0a, 0, 0, 0, len))) << "PONG " << len;
  }
  for (uint32_t len : {0u, 3u, 5u, 8u}) {
    EXPECT_FALSE(header_ok(raw_header(0x08, 0, 0, 1, len))) << "WINDOW " << len;
  }
  for (uint32_t len : {0u, 3u, 9u}) {
    EXPECT_FALSE(header_ok(raw_header(0x03, 0, 0, 1, len))) << "OPEN_OK " << len;
  }
  for (uint32_t len : {1u, 4u, 8u}) {
    EXPECT_FALSE(header_ok(raw_header(0x06, 0, 0, 1, len))) << "EOF " << len;
  }
  // OPEN: 8..262 + 167 (a PROXY block); OPEN_FAIL/RESET: 1..201.
  for (uint32_t len : {0u, 7u, 430u}) {
    EXPECT_FALSE(header_ok(raw_header(0x02, 0, 0, 1, len))) << "OPEN " << len;
  }
  for (uint32_t len : {0u, 202u}) {
    EXPECT_FALSE(header_ok(raw_header(0x04, 0, 0, 1, len))) << "OPEN_FAIL " << len;
    EXPECT_FALSE(header_ok(raw_header(0x07, 0, 0, 1, len))) << "RESET " << len;
  }
}

TEST(FrameHeaderError, StreamIdZeroOnStreamFrames) {
  for (Type t : kAllTypes) {
    if (is_channel_type(t)) continue;
    SCOPED_TRACE(frame::type_name(t));
    Header h;
    std::string err;
    EXPECT_FALSE(header_ok(raw_header(static_cast<uint8_t>(t), 0, 0, 0, valid_length(t)), h, err));
    EXPECT_NE(std::string::npos, err.find("stream id")) << err;
  }
}

TEST(FrameHeaderError, NonZeroStreamIdOnChannelFrames) {
  for (Type t : {Type::hello, Type::ping, Type::pong, Type::auth}) {
    SCOPED_TRACE(frame::type_name(t));
    for (uint32_t id : {1u, 0x100u, 0xffffffffu}) {
      Header h;
      std::string err;
      EXPECT_FALSE(header_ok(raw_header(static_cast<uint8_t>(t), 0, 0, id, valid_length(t)), h, err));
      EXPECT_NE(std::string::npos, err.find("stream id")) << err;
    }
  }
}

// ---------------------------------------------------------------------------
// Payloads

TEST(FramePayload, HelloRoundTrip) {
  for (frame::Role role : {frame::Role::client, frame::Role::server}) {
    std::string p;
    frame::Hello in;
    in.role = role;
    in.flags = frame::kHelloFlagAuth;
    in.tag = "edge-7";
    for (size_t i = 0; i < in.nonce.size(); ++i) in.nonce[i] = static_cast<uint8_t>(i * 9 + 1);
    for (size_t i = 0; i < in.session.size(); ++i) in.session[i] = static_cast<uint8_t>(200 - i);
    frame::encode_hello(in, p);
    ASSERT_EQ(frame::kHelloFixedSize + 6, p.size());
    EXPECT_EQ(std::string("TCPF\x00\x01", 6), p.substr(0, 6));
    EXPECT_EQ(static_cast<char>(role), p[6]);
    EXPECT_EQ('\x01', p[7]);
    frame::Hello h;
    h.version = 99;
    h.role = role == frame::Role::client ? frame::Role::server : frame::Role::client;
    std::string err;
    ASSERT_TRUE(frame::decode_hello(bytes(p), p.size(), h, err)) << err;
    EXPECT_EQ(frame::kVersion, h.version);
    EXPECT_EQ(role, h.role);
    EXPECT_EQ(frame::kHelloFlagAuth, h.flags);
    EXPECT_EQ(in.nonce, h.nonce);
    EXPECT_EQ(in.session, h.session);
    EXPECT_EQ("edge-7", h.tag);
  }
}

// Unknown bits are features the receiver does not speak: kept in flags
// (the handshake looks only at those it knows), never an error.
TEST(FramePayload, HelloUnknownFlagsAreIgnored) {
  std::string p;
  frame::encode_hello(frame::Hello{}, p);
  for (int flags : {0x04, 0x80, 0xff}) {
    p[7] = static_cast<char>(flags);
    frame::Hello h;
    std::string err;
    EXPECT_TRUE(frame::decode_hello(bytes(p), p.size(), h, err)) << flags << err;
    EXPECT_EQ(flags, h.flags);
  }
}

TEST(FramePayload, HelloProxyFlag) {
  std::string p;
  frame::Hello in;
  in.flags = frame::kHelloFlagAuth | frame::kHelloFlagProxy;
  frame::encode_hello(in, p);
  EXPECT_EQ('\x03', p[7]);
  frame::Hello h;
  std::string err;
  ASSERT_TRUE(frame::decode_hello(bytes(p), p.size(), h, err)) << err;
  EXPECT_EQ(frame::kHelloFlagAuth | frame::kHelloFlagProxy, h.flags);
}

TEST(FramePayload, AuthRoundTrip) {
  for (const std::string& name : {std::string(), std::string("branch-7"), std::string(64, 'n')}) {
    frame::Auth in;
    for (size_t i = 0; i < in.proof.size(); ++i) in.proof[i] = static_cast<uint8_t>(255 - i);
    in.name = name;
    std::string p;
    frame::encode_auth(in, p);
    ASSERT_EQ(33 + name.size(), p.size());
    frame::Auth out;
    std::string err;
    ASSERT_TRUE(frame::decode_auth(bytes(p), p.size(), out, err)) << err;
    EXPECT_EQ(in.proof, out.proof);
    EXPECT_EQ(name, out.name);
  }
}

TEST(FramePayload, AuthErrors) {
  frame::Auth in;
  in.name = "abc";
  std::string p;
  frame::encode_auth(in, p);
  frame::Auth out;
  std::string err;
  EXPECT_FALSE(frame::decode_auth(bytes(p), p.size() - 1, out, err));  // length byte disagrees
  std::string longer = p + "x";
  EXPECT_FALSE(frame::decode_auth(bytes(longer), longer.size(), out, err));
  EXPECT_FALSE(frame::decode_auth(bytes(p), 32, out, err));  // no length byte
  std::string ctl = p;
  ctl[34] = '\n';  // non-printable name byte
  EXPECT_FALSE(frame::decode_auth(bytes(ctl), ctl.size(), out, err));
  EXPECT_NE(std::string::npos, err.find("name")) << err;
  std::string toolong(32, '\0');
  toolong.push_back(static_cast<char>(65));
  toolong += std::string(65, 'a');
  EXPECT_FALSE(frame::decode_auth(bytes(toolong), toolong.size(), out, err));
}

TEST(FramePayload, HelloCarriesOtherVersions) {
  // The codec reports the version; refusing it is the tunnel's job.
  std::string p;
  frame::Hello hv;
  hv.version = 0x0203;
  hv.role = frame::Role::server;
  frame::encode_hello(hv, p);
  EXPECT_EQ('\x02', p[4]);
  EXPECT_EQ('\x03', p[5]);
  frame::Hello h;
  std::string err;
  ASSERT_TRUE(frame::decode_hello(bytes(p), p.size(), h, err)) << err;
  EXPECT_EQ(0x0203, h.version);
}

TEST(FramePayload, HelloBadMagic) {
  for (const char* magic : {"TCPG", "tcpf", "GET ", "\0\0\0\0"}) {
    std::string p(magic, 4);
    p += std::string("\x00\x01\x01\x00", 4);
    frame::Hello h;
    std::string err;
    EXPECT_FALSE(frame::decode_hello(bytes(p), p.size(), h, err)) << magic;
    EXPECT_NE(std::string::npos, err.find("magic")) << err;
  }
}

TEST(FramePayload, HelloWrongSize) {
  std::string p;
  frame::encode_hello(frame::Hello{}, p);
  frame::Hello h;
  std::string err;
  EXPECT_FALSE(frame::decode_hello(bytes(p), 7, h, err));
  EXPECT_FALSE(frame::decode_hello(bytes(p), 0, h, err));
  std::string longer = p + "x";
  EXPECT_FALSE(frame::decode_hello(bytes(longer), longer.size(), h, err));
}

TEST(FramePayload, HelloUnknownRole) {
  for (int role : {0, 3, 0xff}) {
    std::string p("TCPF\x00\x01", 6);
    p.push_back(static_cast<char>(role));
    p.push_back('\0');
    p += std::string(frame::kNonceSize + frame::kSessionIdSize, '\x5a');
    p.push_back('\0');  // empty tag
    frame::Hello h;
    std::string err;
    EXPECT_FALSE(frame::decode_hello(bytes(p), p.size(), h, err)) << role;
    EXPECT_NE(std::string::npos, err.find("role")) << err;
  }
}

TEST(FramePayload, OpenRoundTrip) {
  std::string p = open_payload(1u << 20, 8080, "inner-web.example");
  ASSERT_EQ(7u + 17u, p.size());
  // u32 window, u16 port, u8 n, host[n], all big-endian.
  EXPECT_EQ(std::string("\x00\x10\x00\x00\x1f\x90\x11", 7), p.substr(0, 7));
  frame::Open o;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), o, err)) << err;
  EXPECT_EQ(1u << 20, o.window);
  EXPECT_EQ(8080, o.port);
  EXPECT_EQ("inner-web.example", o.host);
}

TEST(FramePayload, OpenOneByteHostAndExtremeValues) {
  std::string p = open_payload(frame::kMaxWindow, 65535, "h");
  EXPECT_EQ(8u, p.size());
  frame::Open o;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), o, err)) << err;
  EXPECT_EQ(frame::kMaxWindow, o.window);
  EXPECT_EQ(65535, o.port);
  EXPECT_EQ("h", o.host);

  p = open_payload(1, 1, "x");
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), o, err)) << err;
  EXPECT_EQ(1u, o.window);
  EXPECT_EQ(1, o.port);
}

TEST(FramePayload, Open255ByteHost) {
  std::string host(255, 'a');
  for (size_t i = 63; i < host.size(); i += 64) host[i] = '.';
  std::string p = open_payload(65536, 443, host);
  ASSERT_EQ(7u + 255u, p.size());
  EXPECT_EQ('\xff', p[6]);
  frame::Open o;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), o, err)) << err;
  EXPECT_EQ(host, o.host);

  // The largest OPEN also passes the header check as a whole frame.
  std::string f;
  frame::encode_frame(Type::open, 7, p, f);
  frame::Frame fr;
  size_t used = 1;
  EXPECT_EQ(Result::ok, frame::decode(bytes(f), f.size(), fr, used, err)) << err;
  EXPECT_EQ(f.size(), used);
  EXPECT_EQ(p, fr.payload);
}

TEST(FramePayload, OpenIpv6LiteralHost) {
  for (const char* host : {"fd00::5", "::1", "2001:db8:0:0:0:0:0:1", "::ffff:192.168.10.5"}) {
    std::string p = open_payload(4096, 22, host);
    frame::Open o;
    std::string err;
    ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), o, err)) << err;
    EXPECT_EQ(host, o.host);
    EXPECT_EQ(22, o.port);
  }
}

TEST(FramePayload, OpenHostLengthDisagreesWithPayload) {
  std::string good = open_payload(4096, 80, "abcd");
  frame::Open o;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(good), good.size(), o, err));
  for (int n : {0, 1, 3, 5, 6, 255}) {
    std::string p = good;
    p[6] = static_cast<char>(n);
    err.clear();
    EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err)) << "length byte " << n;
    EXPECT_FALSE(err.empty());
  }
  // Payload longer or shorter than the length byte says.
  std::string longer = good + "e";
  EXPECT_FALSE(frame::decode_open(bytes(longer), longer.size(), o, err));
  EXPECT_FALSE(frame::decode_open(bytes(good), good.size() - 1, o, err));
}

TEST(FramePayload, OpenEmptyHostOrShortPayload) {
  std::string p = open_payload(4096, 80, "");
  ASSERT_EQ(7u, p.size());
  frame::Open o;
  std::string err;
  EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err));
  for (size_t n = 0; n < 8; ++n) {
    EXPECT_FALSE(frame::decode_open(bytes(p), n, o, err)) << n;
  }
}

TEST(FramePayload, OpenWindowZeroOrTooLarge) {
  frame::Open o;
  std::string err;
  std::string p = open_payload(0, 80, "host");
  EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err));
  EXPECT_NE(std::string::npos, err.find("window")) << err;
  p = open_payload(frame::kMaxWindow + 1, 80, "host");
  EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err));
  p = open_payload(0xffffffffu, 80, "host");
  EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err));
}

TEST(FramePayload, OpenPortZero) {
  frame::Open o;
  std::string err;
  std::string p = open_payload(4096, 0, "host");
  EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err));
  EXPECT_NE(std::string::npos, err.find("port")) << err;
}

TEST(FramePayload, OpenNulInHost) {
  frame::Open o;
  std::string err;
  std::string p = open_payload(4096, 80, std::string("ho\0st", 5));
  EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err));
}

TEST(FramePayload, U32RoundTrip) {
  for (uint32_t v : {1u, 255u, 256u, 0x00010203u, 1u << 20, frame::kMaxWindow}) {
    std::string p = u32_payload(v);
    ASSERT_EQ(4u, p.size());
    uint32_t out = 0;
    std::string err;
    ASSERT_TRUE(frame::decode_u32(bytes(p), p.size(), out, err)) << v << ": " << err;
    EXPECT_EQ(v, out);
  }
  EXPECT_EQ(std::string("\x00\x01\x02\x03", 4), u32_payload(0x00010203u));
}

TEST(FramePayload, WindowIncrementZeroOrTooLarge) {
  for (uint32_t v : {0u, frame::kMaxWindow + 1, 0x80000000u, 0xffffffffu}) {
    std::string p = u32_payload(v);
    uint32_t out = 0;
    std::string err;
    EXPECT_FALSE(frame::decode_u32(bytes(p), p.size(), out, err)) << v;
    EXPECT_FALSE(err.empty());
  }
}

TEST(FramePayload, U32WrongSize) {
  std::string p = u32_payload(5) + "x";
  uint32_t out = 0;
  std::string err;
  EXPECT_FALSE(frame::decode_u32(bytes(p), 3, out, err));
  EXPECT_FALSE(frame::decode_u32(bytes(p), 5, out, err));
  EXPECT_FALSE(frame::decode_u32(bytes(p), 0, out, err));
}

TEST(FramePayload, FailureRoundTrip) {
  struct Case {
    uint8_t reason;
    std::string text;
  } cases[] = {
      {static_cast<uint8_t>(frame::Reason::refused), "connection refused by 192.168.10.5:80"},
      {static_cast<uint8_t>(frame::Reason::dns), "inner-web.example: Name or service not known"},
      {static_cast<uint8_t>(frame::Reason::other), ""},
      {static_cast<uint8_t>(frame::Reason::resource_limit), std::string(200, 'z')},
      {0xff, std::string("bin\0\xff\n", 6)},
  };
  for (const auto& c : cases) {
    std::string p;
    frame::encode_failure(frame::Failure{c.reason, c.text}, p);
    ASSERT_EQ(1 + c.text.size(), p.size());
    EXPECT_EQ(static_cast<char>(c.reason), p[0]);
    frame::Failure f;
    f.text = "previous";
    std::string err;
    ASSERT_TRUE(frame::decode_failure(bytes(p), p.size(), f, err)) << err;
    EXPECT_EQ(c.reason, f.reason);
    EXPECT_EQ(c.text, f.text);

    // Same bytes as OPEN_FAIL and as RESET frames.
    for (Type t : {Type::open_fail, Type::reset}) {
      std::string fbuf;
      frame::encode_frame(t, 3, p, fbuf);
      frame::Frame fr;
      size_t used = 0;
      ASSERT_EQ(Result::ok, frame::decode(bytes(fbuf), fbuf.size(), fr, used, err)) << err;
      EXPECT_EQ(t, fr.header.type);
      EXPECT_EQ(p, fr.payload);
    }
  }
}

TEST(FramePayload, FailureTextTruncatedTo200) {
  std::string p;
  frame::encode_failure(frame::Failure{5, std::string(300, 'x')}, p);
  EXPECT_EQ(1 + frame::kMaxReasonText, p.size());
  frame::Failure f;
  std::string err;
  ASSERT_TRUE(frame::decode_failure(bytes(p), p.size(), f, err)) << err;
  EXPECT_EQ(std::string(200, 'x'), f.text);
}

TEST(FramePayload, FailureBadSize) {
  std::string p(202, 'x');
  frame::Failure f;
  std::string err;
  EXPECT_FALSE(frame::decode_failure(bytes(p), 0, f, err));
  EXPECT_FALSE(frame::decode_failure(bytes(p), 202, f, err));
  EXPECT_TRUE(frame::decode_failure(bytes(p), 201, f, err)) << err;
  EXPECT_TRUE(frame::decode_failure(bytes(p), 1, f, err)) << err;
  EXPECT_EQ("", f.text);
}

// ---------------------------------------------------------------------------
// Whole-frame decode()

namespace {

// One valid frame of every type.
std::vector<std::string> sample_frames() {
  std::vector<std::string> out;
  auto add = [&](Type t, uint32_t stream, const std::string& payload) {
    std::string f;
    frame::encode_frame(t, stream, payload, f);
    out.push_back(f);
  };
  std::string p;
  frame::encode_hello(frame::Hello{}, p);
  add(Type::hello, 0, p);
  add(Type::open, 1, open_payload(1u << 20, 22, "fd00::5"));
  add(Type::open_ok, 1, u32_payload(1u << 20));
  p.clear();
  frame::encode_failure(frame::Failure{1, "refused"}, p);
  add(Type::open_fail, 2, p);
  add(Type::data, 3, std::string(1000, 'd'));
  add(Type::eof, 3, "");
  add(Type::reset, 4, p);
  add(Type::window, 3, u32_payload(4096));
  add(Type::ping, 0, "12345678");
  add(Type::pong, 0, "12345678");
  return out;
}

}  // namespace

TEST(FrameDecode, EncodeFrameLayout) {
  std::string f;
  frame::encode_frame(Type::data, 0x0a0b0c0du, "xyz", f);
  EXPECT_EQ(std::string("\x05\x00\x00\x00\x0a\x0b\x0c\x0d\x00\x00\x00\x03xyz", 15), f);
  // encode_frame appends.
  frame::encode_frame(Type::eof, 1, "", f);
  EXPECT_EQ(27u, f.size());
}

TEST(FrameDecode, NeedMoreForEveryTruncation) {
  for (const std::string& f : sample_frames()) {
    SCOPED_TRACE(frame::type_name(static_cast<Type>(f[0])));
    for (size_t n = 0; n < f.size(); ++n) {
      frame::Frame fr;
      size_t used = 99;
      std::string err;
      ASSERT_EQ(Result::need_more, frame::decode(bytes(f), n, fr, used, err)) << "n=" << n << " " << err;
      EXPECT_EQ(0u, used);
    }
  }
}

TEST(FrameDecode, OkConsumesWholeFrame) {
  for (const std::string& f : sample_frames()) {
    Type t = static_cast<Type>(f[0]);
    SCOPED_TRACE(frame::type_name(t));
    frame::Frame fr;
    size_t used = 0;
    std::string err;
    ASSERT_EQ(Result::ok, frame::decode(bytes(f), f.size(), fr, used, err)) << err;
    EXPECT_EQ(f.size(), used);
    EXPECT_EQ(t, fr.header.type);
    EXPECT_EQ(f.size() - frame::kHeaderSize, fr.header.length);
    EXPECT_EQ(f.substr(frame::kHeaderSize), fr.payload);
  }
}

TEST(FrameDecode, TrailingBytesAreLeftForTheNextCall) {
  std::string f;
  frame::encode_frame(Type::data, 9, "hello", f);
  std::string buf = f + std::string("\x05\x00", 2);  // start of another frame
  frame::Frame fr;
  size_t used = 0;
  std::string err;
  ASSERT_EQ(Result::ok, frame::decode(bytes(buf), buf.size(), fr, used, err)) << err;
  EXPECT_EQ(f.size(), used);
  EXPECT_EQ("hello", fr.payload);
  EXPECT_EQ(Result::need_more, frame::decode(bytes(buf) + used, buf.size() - used, fr, used, err));
}

TEST(FrameDecode, FramesBackToBackDecodeInSequence) {
  std::vector<std::string> frames = sample_frames();
  std::string buf;
  for (const auto& f : frames) buf += f;
  size_t pos = 0;
  for (const auto& f : frames) {
    frame::Frame fr;
    size_t used = 0;
    std::string err;
    ASSERT_EQ(Result::ok, frame::decode(bytes(buf) + pos, buf.size() - pos, fr, used, err)) << err;
    EXPECT_EQ(f.size(), used);
    EXPECT_EQ(static_cast<Type>(f[0]), fr.header.type);
    EXPECT_EQ(f.substr(frame::kHeaderSize), fr.payload);
    pos += used;
  }
  EXPECT_EQ(buf.size(), pos);
  frame::Frame fr;
  size_t used = 5;
  std::string err;
  EXPECT_EQ(Result::need_more, frame::decode(bytes(buf) + pos, 0, fr, used, err));
  EXPECT_EQ(0u, used);
}

TEST(FrameDecode, TwoDataFramesBackToBack) {
  std::string buf;
  frame::encode_frame(Type::data, 1, std::string(frame::kMaxPayload, 'a'), buf);
  frame::encode_frame(Type::data, 2, "b", buf);
  frame::Frame fr;
  size_t used = 0;
  std::string err;
  ASSERT_EQ(Result::ok, frame::decode(bytes(buf), buf.size(), fr, used, err)) << err;
  EXPECT_EQ(frame::kHeaderSize + frame::kMaxPayload, used);
  EXPECT_EQ(1u, fr.header.stream);
  EXPECT_EQ(frame::kMaxPayload, fr.payload.size());
  size_t pos = used;
  ASSERT_EQ(Result::ok, frame::decode(bytes(buf) + pos, buf.size() - pos, fr, used, err)) << err;
  EXPECT_EQ(13u, used);
  EXPECT_EQ(2u, fr.header.stream);
  EXPECT_EQ("b", fr.payload);
}

TEST(FrameDecode, HeaderErrorsReportedBeforePayloadArrives) {
  // A bad header is an error as soon as the 12 header bytes are there,
  // whatever the (not yet received) payload.
  struct Case {
    const char* what;
    std::vector<uint8_t> raw;
  } cases[] = {
      {"type 0x00", raw_header(0x00, 0, 0, 1, 4)},
      {"type 0x1f", raw_header(0x1f, 0, 0, 1, 4)},
      {"CLOSE stream 1", raw_header(0x0e, 0, 0, 1, 4)},
      {"CLOSE empty", raw_header(0x0e, 0, 0, 0, 0)},
      {"type 0xff", raw_header(0xff, 0, 0, 1, 4)},
      {"flags", raw_header(0x05, 1, 0, 1, 4)},
      {"reserved", raw_header(0x05, 0, 1, 1, 4)},
      {"DATA kMaxPayload+1", raw_header(0x05, 0, 0, 1, frame::kMaxPayload + 1)},
      {"DATA 0xFFFFFFFF", raw_header(0x05, 0, 0, 1, 0xffffffffu)},
      {"DATA empty", raw_header(0x05, 0, 0, 1, 0)},
      {"HELLO 7", raw_header(0x01, 0, 0, 0, 7)},
      {"WINDOW 8", raw_header(0x08, 0, 0, 1, 8)},
      {"OPEN_OK 0", raw_header(0x03, 0, 0, 1, 0)},
      {"EOF 1", raw_header(0x06, 0, 0, 1, 1)},
      {"DATA stream 0", raw_header(0x05, 0, 0, 0, 4)},
      {"WINDOW stream 0", raw_header(0x08, 0, 0, 0, 4)},
      {"HELLO stream 1", raw_header(0x01, 0, 0, 1, 8)},
      {"PING stream 1", raw_header(0x09, 0, 0, 1, 8)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    frame::Frame fr;
    size_t used = 42;
    std::string err;
    EXPECT_EQ(Result::need_more, frame::decode(c.raw.data(), 11, fr, used, err));
    EXPECT_EQ(Result::error, frame::decode(c.raw.data(), c.raw.size(), fr, used, err));
    EXPECT_FALSE(err.empty());
    EXPECT_EQ(0u, used);
  }
}

TEST(FrameDecode, OversizedLengthDoesNotWaitForPayload) {
  // 0xFFFFFFFF with 100 bytes of "payload" behind it: error, not need_more.
  std::vector<uint8_t> buf = raw_header(0x05, 0, 0, 1, 0xffffffffu);
  buf.resize(buf.size() + 100, 'x');
  frame::Frame fr;
  size_t used = 0;
  std::string err;
  EXPECT_EQ(Result::error, frame::decode(buf.data(), buf.size(), fr, used, err));
  EXPECT_TRUE(fr.payload.empty());
}

TEST(FrameDecode, ErrorAfterValidFrame) {
  std::string buf;
  frame::encode_frame(Type::ping, 0, "abcdefgh", buf);
  std::vector<uint8_t> bad = raw_header(0x1f, 0, 0, 1, 1);
  buf.append(bad.begin(), bad.end());
  frame::Frame fr;
  size_t used = 0;
  std::string err;
  ASSERT_EQ(Result::ok, frame::decode(bytes(buf), buf.size(), fr, used, err)) << err;
  EXPECT_EQ(20u, used);
  EXPECT_EQ(Result::error, frame::decode(bytes(buf) + used, buf.size() - used, fr, used, err));
}

TEST(FrameDecode, RandomBuffersNeverCrashAndAreConsistent) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> size(12, 300);
  int counts[3] = {0, 0, 0};
  std::vector<uint8_t> buf;
  for (int i = 0; i < 10000; ++i) {
    size_t n = size(rng);
    buf.resize(n);
    for (auto& b : buf) b = static_cast<uint8_t>(byte(rng));
    // Bias half the buffers towards plausible headers so every branch of the
    // decoder (and the payload decoders) is exercised, not just "unknown type".
    if (i % 2 == 0) {
      buf[0] = static_cast<uint8_t>(1 + byte(rng) % 10);
      if (byte(rng) < 224) buf[1] = buf[2] = buf[3] = 0;
      if (byte(rng) < 128) buf[4] = buf[5] = buf[6] = 0;
      if (byte(rng) < 128) buf[7] = 0;
      buf[8] = buf[9] = 0;
      if (byte(rng) < 192) buf[10] = 0;
    }
    frame::Frame fr;
    size_t used = 12345;
    std::string err;
    Result r = frame::decode(buf.data(), n, fr, used, err);
    counts[static_cast<int>(r)]++;
    switch (r) {
      case Result::ok: {
        ASSERT_LE(used, n);
        ASSERT_EQ(frame::kHeaderSize + fr.header.length, used);
        ASSERT_EQ(fr.header.length, fr.payload.size());
        ASSERT_EQ(0, memcmp(buf.data() + frame::kHeaderSize, fr.payload.data(), fr.payload.size()));
        ASSERT_LE(fr.header.length, frame::kMaxPayload);
        // Re-encoding the header gives back the same bytes.
        uint8_t h[frame::kHeaderSize];
        frame::encode_header(fr.header, h);
        ASSERT_EQ(0, memcmp(h, buf.data(), frame::kHeaderSize));
        // Payload decoders must not crash either, whatever they decide.
        const uint8_t* p = buf.data() + frame::kHeaderSize;
        size_t len = fr.payload.size();
        frame::Hello he;
        frame::Auth au;
        frame::Open op;
        frame::Failure fa;
        uint32_t v = 0;
        switch (fr.header.type) {
          case Type::hello: frame::decode_hello(p, len, he, err); break;
          case Type::auth: frame::decode_auth(p, len, au, err); break;
          case Type::udp_open: {
            frame::UdpOpen uo;
            if (frame::decode_udp_open(p, len, uo, err)) {
              ASSERT_GE(len, 3 + uo.host.size());
            }
            break;
          }
          case Type::datagram: break;
          case Type::open:
            if (frame::decode_open(p, len, op, err)) {
              ASSERT_GE(len, 7 + op.host.size());
              ASSERT_NE(0, op.port);
            }
            break;
          case Type::open_ok:
          case Type::window:
            if (frame::decode_u32(p, len, v, err)) {
              ASSERT_TRUE(v >= 1 && v <= frame::kMaxWindow);
            }
            break;
          case Type::open_fail:
          case Type::reset:
            ASSERT_TRUE(frame::decode_failure(p, len, fa, err)) << err;
            break;
          default: break;
        }
        break;
      }
      case Result::need_more:
        ASSERT_EQ(0u, used);
        ASSERT_LT(n - frame::kHeaderSize, fr.header.length);
        break;
      case Result::error:
        ASSERT_EQ(0u, used);
        ASSERT_FALSE(err.empty());
        break;
    }
  }
  // The biased half makes all three outcomes common enough to matter.
  EXPECT_GT(counts[static_cast<int>(Result::ok)], 100);
  EXPECT_GT(counts[static_cast<int>(Result::need_more)], 100);
  EXPECT_GT(counts[static_cast<int>(Result::error)], 1000);
}

TEST(FramePayload, HelloTagErrors) {
  frame::Hello in;
  in.tag = "ok";
  std::string p;
  frame::encode_hello(in, p);
  frame::Hello h;
  std::string err;
  ASSERT_TRUE(frame::decode_hello(bytes(p), p.size(), h, err)) << err;
  EXPECT_FALSE(frame::decode_hello(bytes(p), p.size() - 1, h, err));  // tag length disagrees
  std::string sp = p;
  sp[sp.size() - 1] = ' ';
  EXPECT_FALSE(frame::decode_hello(bytes(sp), sp.size(), h, err));  // space in tag
  EXPECT_NE(std::string::npos, err.find("tag")) << err;
}

TEST(FramePayload, UdpOpenRoundTripAndErrors) {
  frame::UdpOpen in;
  in.port = 53;
  in.host = "dns.internal";
  std::string p;
  frame::encode_udp_open(in, p);
  ASSERT_EQ(3 + in.host.size(), p.size());
  frame::UdpOpen out;
  std::string err;
  ASSERT_TRUE(frame::decode_udp_open(bytes(p), p.size(), out, err)) << err;
  EXPECT_EQ(53, out.port);
  EXPECT_EQ("dns.internal", out.host);
  EXPECT_FALSE(frame::decode_udp_open(bytes(p), p.size() - 1, out, err));
  std::string zero = p;
  zero[0] = zero[1] = '\0';
  EXPECT_FALSE(frame::decode_udp_open(bytes(zero), zero.size(), out, err));
  EXPECT_NE(std::string::npos, err.find("port 0")) << err;
}

namespace {

frame::ProxyBlock v4_block(proxy::Version v) {
  frame::ProxyBlock b;
  b.version = v;
  b.ends.family = proxy::Family::inet;
  b.ends.src = {127, 0, 0, 7};
  b.ends.dst = {127, 0, 0, 1};
  b.ends.src_port = 40000;
  b.ends.dst_port = 4444;
  b.unique_id = "0a0b0c0d.01020304.9";
  return b;
}

}  // namespace

TEST(FramePayload, OpenProxyBlockBytes) {
  frame::Open in{65536, 80, "web", v4_block(proxy::Version::v2)};
  std::string p;
  frame::encode_open(in, p);
  // u32 window, u16 port, u8 n, host, then version, family, src, dst,
  // u16 src port, u16 dst port, u8 n, id.
  std::string want = std::string("\x00\x01\x00\x00\x00\x50\x03web", 10) +
                     std::string("\x02\x04\x7f\x00\x00\x07\x7f\x00\x00\x01\x9c\x40\x11\x5c\x13", 15) +
                     "0a0b0c0d.01020304.9";
  EXPECT_EQ(want, p);
  frame::Open out;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), out, err)) << err;
  EXPECT_EQ(proxy::Version::v2, out.proxy.version);
  EXPECT_TRUE(in.proxy.ends == out.proxy.ends);
  EXPECT_EQ(in.proxy.unique_id, out.proxy.unique_id);
  EXPECT_EQ("web", out.host);
}

TEST(FramePayload, OpenProxyBlockIpv6AndUnknown) {
  frame::Open in{4096, 22, "fd00::5", {}};
  in.proxy.version = proxy::Version::v1;
  in.proxy.ends.family = proxy::Family::inet6;
  for (size_t i = 0; i < 16; ++i) {
    in.proxy.ends.src[i] = static_cast<uint8_t>(0xf0 + i);
    in.proxy.ends.dst[i] = static_cast<uint8_t>(i);
  }
  in.proxy.ends.src_port = 1;
  in.proxy.ends.dst_port = 65535;
  std::string p;
  frame::encode_open(in, p);
  ASSERT_EQ(7u + 7u + 2u + 32u + 4u + 1u, p.size());
  frame::Open out;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), out, err)) << err;
  EXPECT_EQ(proxy::Version::v1, out.proxy.version);
  EXPECT_TRUE(in.proxy.ends == out.proxy.ends);
  EXPECT_EQ("", out.proxy.unique_id);

  frame::Open unknown{4096, 22, "h", {}};
  unknown.proxy.version = proxy::Version::v2;
  unknown.proxy.unique_id = "x";
  p.clear();
  frame::encode_open(unknown, p);
  ASSERT_EQ(8u + 2u + 4u + 1u + 1u, p.size());  // no addresses
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), out, err)) << err;
  EXPECT_EQ(proxy::Family::unknown, out.proxy.ends.family);
  EXPECT_EQ("x", out.proxy.unique_id);
}

TEST(FramePayload, OpenWithoutProxyBlockHasNone) {
  std::string p = open_payload(4096, 80, "host");
  frame::Open o;
  o.proxy.version = proxy::Version::v2;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(p), p.size(), o, err)) << err;
  EXPECT_EQ(proxy::Version::off, o.proxy.version);
}

TEST(FramePayload, OpenProxyBlockErrors) {
  frame::Open in{65536, 80, "web", v4_block(proxy::Version::v1)};
  std::string good;
  frame::encode_open(in, good);
  const size_t block = 10;  // where the block starts
  frame::Open o;
  std::string err;
  ASSERT_TRUE(frame::decode_open(bytes(good), good.size(), o, err)) << err;
  for (int v : {0, 3, 0xff}) {
    std::string p = good;
    p[block] = static_cast<char>(v);
    EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err)) << v;
    EXPECT_NE(std::string::npos, err.find("PROXY version")) << err;
  }
  for (int f : {1, 5, 0x40}) {
    std::string p = good;
    p[block + 1] = static_cast<char>(f);
    EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err)) << f;
  }
  // Every truncation of the block, and one byte too many.
  for (size_t n = block + 1; n < good.size(); ++n)
    EXPECT_FALSE(frame::decode_open(bytes(good), n, o, err)) << n;
  std::string longer = good + "x";
  EXPECT_FALSE(frame::decode_open(bytes(longer), longer.size(), o, err));
  // An id that is not printable, and one over 128 bytes.
  std::string p = good;
  p[p.size() - 1] = ' ';
  EXPECT_FALSE(frame::decode_open(bytes(p), p.size(), o, err));
  EXPECT_NE(std::string::npos, err.find("unique id")) << err;
  frame::Open big{65536, 80, "web", v4_block(proxy::Version::v2)};
  big.proxy.unique_id = std::string(129, 'u');
  std::string enc;
  frame::encode_open(big, enc);  // cut to 128 by the encoder
  ASSERT_TRUE(frame::decode_open(bytes(enc), enc.size(), o, err)) << err;
  EXPECT_EQ(std::string(128, 'u'), o.proxy.unique_id);
  enc[block + 14] = static_cast<char>(129);
  enc += "u";
  EXPECT_FALSE(frame::decode_open(bytes(enc), enc.size(), o, err));
}

TEST(FramePayload, OpenLargestIsMaxControlPayload) {
  frame::Open in{65536, 443, std::string(255, 'a'), {}};
  in.proxy.version = proxy::Version::v2;
  in.proxy.ends.family = proxy::Family::inet6;
  in.proxy.unique_id = std::string(proxy::kMaxUniqueId, 'i');
  std::string p;
  frame::encode_open(in, p);
  ASSERT_EQ(frame::kMaxControlPayload, p.size());
  std::string f, err;
  frame::encode_frame(Type::open, 7, p, f);
  frame::Frame fr;
  size_t used = 0;
  ASSERT_EQ(Result::ok, frame::decode(bytes(f), f.size(), fr, used, err)) << err;
  frame::Open out;
  ASSERT_TRUE(frame::decode_open(bytes(fr.payload), fr.payload.size(), out, err)) << err;
  EXPECT_EQ(in.proxy.unique_id, out.proxy.unique_id);
  // One byte more is refused by the header check, before any payload.
  Header h;
  EXPECT_FALSE(header_ok(raw_header(0x02, 0, 0, 7, frame::kMaxControlPayload + 1), h, err));
}

TEST(FramePayload, UdpOpenProxyBlock) {
  frame::UdpOpen in;
  in.port = 53;
  in.host = "dns";
  in.proxy = v4_block(proxy::Version::v2);
  std::string p;
  frame::encode_udp_open(in, p);
  ASSERT_EQ(3u + 3u + 2u + 8u + 4u + 1u + in.proxy.unique_id.size(), p.size());
  frame::UdpOpen out;
  std::string err;
  ASSERT_TRUE(frame::decode_udp_open(bytes(p), p.size(), out, err)) << err;
  EXPECT_EQ(proxy::Version::v2, out.proxy.version);
  EXPECT_TRUE(in.proxy.ends == out.proxy.ends);
  p[6] = 1;  // v1 has no datagram form
  EXPECT_FALSE(frame::decode_udp_open(bytes(p), p.size(), out, err));
  EXPECT_NE(std::string::npos, err.find("v1")) << err;
}

TEST(FrameHeader, DatagramLimits) {
  Header h;
  std::string err;
  EXPECT_TRUE(header_ok(raw_header(0x0d, 0, 0, 7, 0), h, err)) << err;  // empty datagram is legal
  EXPECT_TRUE(header_ok(raw_header(0x0d, 0, 0, 7, 65507), h, err)) << err;
  EXPECT_FALSE(header_ok(raw_header(0x0d, 0, 0, 7, 65508), h, err));
  EXPECT_FALSE(header_ok(raw_header(0x0d, 0, 0, 0, 10), h, err));  // needs a session id
}

TEST(FrameOpenOk, ConnectTimeOnlyFromAPeerThatAnnouncedIt) {
  frame::OpenOk ok;
  ok.window = 1u << 20;
  ok.connect_us = 1234;
  std::string with, without;
  frame::encode_open_ok(ok, true, with);
  frame::encode_open_ok(ok, false, without);
  ASSERT_EQ(8u, with.size());
  ASSERT_EQ(4u, without.size());
  EXPECT_EQ(std::string("\x00\x10\x00\x00\x00\x00\x04\xd2", 8), with);
  auto bytes = [](const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); };
  frame::OpenOk got;
  std::string err;
  ASSERT_TRUE(frame::decode_open_ok(bytes(with), with.size(), true, got, err)) << err;
  EXPECT_EQ(1u << 20, got.window);
  EXPECT_EQ(1234u, got.connect_us);
  ASSERT_TRUE(frame::decode_open_ok(bytes(without), without.size(), true, got, err)) << err;
  EXPECT_EQ(0u, got.connect_us) << "an older client sends the window only";
  EXPECT_FALSE(frame::decode_open_ok(bytes(with), with.size(), false, got, err));
  EXPECT_NE(std::string::npos, err.find("did not announce")) << err;
  EXPECT_FALSE(frame::decode_open_ok(bytes(with), 6, true, got, err));
  std::string zero;
  frame::encode_open_ok(frame::OpenOk{0, 5}, true, zero);
  EXPECT_FALSE(frame::decode_open_ok(bytes(zero), zero.size(), true, got, err)) << "window 0";
}

// ---------------------------------------------------------------------------
// REQUEST (server to client, http mappings)

namespace {

std::vector<uint8_t> request_bytes() {
  return {0x01, 0xf4,                                      // status 500
          0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,  // bytes 2^32 + 2
          0x00, 0x00, 0x04, 0xd2,                          // latency 1234 us
          0x03, 'G',  'E',  'T',                           // method
          0x00, 0x02, '/',  'a',                           // path
          0x03, '1',  ':',  '2',                           // peer
          0x01, 'm'};                                      // mapping
}

}  // namespace

TEST(FrameRequest, EncodesByteExactly) {
  frame::Request r;
  r.status = 500;
  r.bytes = (1ull << 32) + 2;
  r.latency_us = 1234;
  r.method = "GET";
  r.path = "/a";
  r.peer = "1:2";
  r.mapping = "m";
  std::string out;
  frame::encode_request(r, out);
  std::vector<uint8_t> want = request_bytes();
  EXPECT_EQ(std::string(want.begin(), want.end()), out);
}

TEST(FrameRequest, DecodesByteExactly) {
  std::vector<uint8_t> b = request_bytes();
  frame::Request r;
  std::string err;
  ASSERT_TRUE(frame::decode_request(b.data(), b.size(), r, err)) << err;
  EXPECT_EQ(500, r.status);
  EXPECT_EQ((1ull << 32) + 2, r.bytes);
  EXPECT_EQ(1234u, r.latency_us);
  EXPECT_EQ("GET", r.method);
  EXPECT_EQ("/a", r.path);
  EXPECT_EQ("1:2", r.peer);
  EXPECT_EQ("m", r.mapping);
}

TEST(FrameRequest, EncoderCutsFieldsToTheirLimits) {
  frame::Request r;
  r.method = std::string(40, 'M');
  r.path = "/" + std::string(1000, 'p');
  r.peer = std::string(100, '1');
  r.mapping = std::string(100, '2');
  std::string out;
  frame::encode_request(r, out);
  EXPECT_EQ(frame::kMaxRequestPayload, out.size());
  frame::Request back;
  std::string err;
  ASSERT_TRUE(frame::decode_request(reinterpret_cast<const uint8_t*>(out.data()), out.size(), back, err))
      << err;
  EXPECT_EQ(frame::kMaxRequestMethod, back.method.size());
  EXPECT_EQ(r.path.substr(0, frame::kMaxRequestPath), back.path);
  EXPECT_EQ(frame::kMaxRequestAddress, back.peer.size());
  EXPECT_EQ(frame::kMaxRequestAddress, back.mapping.size());
  // A whole frame of the largest payload passes the header check.
  std::string whole;
  frame::encode_frame(Type::request, 7, out, whole);
  frame::Frame f;
  size_t used = 0;
  EXPECT_EQ(Result::ok, frame::decode(reinterpret_cast<const uint8_t*>(whole.data()), whole.size(), f, used, err))
      << err;
}

TEST(FrameRequest, RefusesMalformedPayloads) {
  auto refused = [](std::vector<uint8_t> b, const char* what) {
    frame::Request r;
    std::string err;
    EXPECT_FALSE(frame::decode_request(b.data(), b.size(), r, err)) << what;
    EXPECT_FALSE(err.empty()) << what;
  };
  std::vector<uint8_t> good = request_bytes();
  for (size_t n = 0; n < good.size(); ++n)
    refused(std::vector<uint8_t>(good.begin(), good.begin() + n), "truncated");
  std::vector<uint8_t> b = good;
  b.push_back(0);
  refused(b, "trailing byte");
  b = good;
  b[0] = 0, b[1] = 99;  // status 99
  refused(b, "status below 100");
  b = good;
  b[0] = 0x03, b[1] = 0xe8;  // 1000
  refused(b, "status above 999");
  b = good;
  b[14] = 0;  // empty method
  refused(b, "empty method");
  b = good;
  b[15] = ' ';
  refused(b, "method with a space");
  b = good;
  b[19] = 0xff;  // path length 255 + ... past the end
  refused(b, "path past the end");
  b = good;
  b[22] = 0x40;  // peer longer than what follows
  refused(b, "peer past the end");
  // Status 0 (no response) is allowed.
  b = good;
  b[0] = 0, b[1] = 0;
  frame::Request r;
  std::string err;
  EXPECT_TRUE(frame::decode_request(b.data(), b.size(), r, err)) << err;
  EXPECT_EQ(0, r.status);
}

TEST(FrameRequest, HeaderNeedsAStreamId) {
  EXPECT_FALSE(header_ok(raw_header(0x11, 0, 0, 0, 20)));
  EXPECT_TRUE(header_ok(raw_header(0x11, 0, 0, 3, 20)));
}

// EXPOSE and EXPOSE_REPLY, byte by byte (docs/PROTOCOL.md).
TEST(FrameExpose, EncodesFieldsInOrder) {
  frame::Expose e;
  e.request = 0x01020304;
  e.udp = false;
  e.http = true;
  e.public_port = 20001;
  e.target_port = 8080;
  e.target_host = "127.0.0.1";
  std::string p;
  frame::encode_expose(e, p);
  const std::string want("\x01\x02\x03\x04\x00\x01\x4e\x21\x1f\x90\x09" "127.0.0.1", 20);
  EXPECT_EQ(want, p);
  frame::Expose d;
  std::string err;
  ASSERT_TRUE(frame::decode_expose(reinterpret_cast<const uint8_t*>(p.data()), p.size(), d, err))
      << err;
  EXPECT_EQ(0x01020304u, d.request);
  EXPECT_FALSE(d.udp);
  EXPECT_TRUE(d.http);
  EXPECT_EQ(20001, d.public_port);
  EXPECT_EQ(8080, d.target_port);
  EXPECT_EQ("127.0.0.1", d.target_host);
}

TEST(FrameExpose, RejectsMalformed) {
  auto decode = [](std::string p, std::string& err) {
    frame::Expose e;
    return frame::decode_expose(reinterpret_cast<const uint8_t*>(p.data()), p.size(), e, err);
  };
  std::string good;
  frame::encode_expose(frame::Expose{7, true, false, 0, 53, "dns.lan"}, good);
  std::string err;
  EXPECT_TRUE(decode(good, err)) << err;
  EXPECT_FALSE(decode(good.substr(0, good.size() - 1), err));  // host shorter than n
  EXPECT_EQ("malformed EXPOSE payload", err);
  EXPECT_FALSE(decode(good + "x", err));  // trailing byte
  std::string p = good;
  p[4] = 2;
  EXPECT_FALSE(decode(p, err));
  EXPECT_EQ("EXPOSE with unknown protocol 2", err);
  p = good;
  p[5] = 1;  // http over udp
  EXPECT_FALSE(decode(p, err));
  EXPECT_EQ("EXPOSE with unknown mode 1 for udp", err);
  p = good;
  p[8] = 0;
  p[9] = 0;
  EXPECT_FALSE(decode(p, err));
  EXPECT_EQ("EXPOSE with target port 0", err);
  p = good;
  p[11] = ' ';
  EXPECT_FALSE(decode(p, err));
  EXPECT_EQ("EXPOSE with a non-printable target host", err);
  p = good.substr(0, 10) + std::string(1, '\0');  // empty host
  EXPECT_FALSE(decode(p, err));
}

TEST(FrameExpose, ReplyRoundTripsAndChecksPort) {
  frame::ExposeReply r{9, 0, 21000, ""};
  std::string p;
  frame::encode_expose_reply(r, p);
  EXPECT_EQ(std::string("\x00\x00\x00\x09\x00\x52\x08", 7), p);
  frame::ExposeReply d;
  std::string err;
  auto decode = [&](const std::string& b) {
    return frame::decode_expose_reply(reinterpret_cast<const uint8_t*>(b.data()), b.size(), d, err);
  };
  ASSERT_TRUE(decode(p)) << err;
  EXPECT_EQ(9u, d.request);
  EXPECT_EQ(21000, d.public_port);
  p.clear();
  frame::encode_expose_reply(
      frame::ExposeReply{3, static_cast<uint8_t>(frame::ExposeResult::max_ports), 0, "MAX_PORTS 5"}, p);
  ASSERT_TRUE(decode(p)) << err;
  EXPECT_EQ("MAX_PORTS 5", d.text);
  EXPECT_STREQ("MAX_PORTS reached", frame::expose_result_name(d.result));
  // ok without a port, a refusal with one, a short payload: malformed.
  EXPECT_FALSE(decode(std::string("\0\0\0\1\0\0\0", 7)));
  EXPECT_FALSE(decode(std::string("\0\0\0\1\1\0\1", 7)));
  EXPECT_FALSE(decode(std::string("\0\0\0\1\1\0", 6)));
  // The encoder caps the text at kMaxReasonText.
  p.clear();
  frame::encode_expose_reply(frame::ExposeReply{1, 5, 0, std::string(300, 'x')}, p);
  EXPECT_EQ(frame::kExposeReplyFixedSize + frame::kMaxReasonText, p.size());
}
