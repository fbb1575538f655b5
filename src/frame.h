// Channel frame codec (docs/PROTOCOL.md): bytes in, values out. No I/O.
//
// Contract: decode_header() looks at exactly kHeaderSize bytes and rejects,
// before any payload is buffered, every header that version 1 does not allow
// (unknown type, non-zero flags/reserved, a length outside the type's range,
// a stream id of the wrong kind). The decode_* payload functions take the
// complete payload and return false with a reason in err if it is malformed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy_header.h"

namespace frame {

constexpr size_t kHeaderSize = 12;
constexpr uint32_t kMaxPayload = 65536;  // largest payload of any frame
constexpr uint32_t kMaxDatagram = 65507;  // largest UDP payload over IPv4
// The PROXY block an OPEN or UDP_OPEN may end with: version, family, two
// addresses, two ports, the unique id.
constexpr uint32_t kMaxProxyBlock = 2 + 2 * 16 + 4 + 1 + proxy::kMaxUniqueId;
constexpr uint32_t kMaxControlPayload = 262 + kMaxProxyBlock;  // largest non-DATA payload (OPEN)
constexpr uint16_t kVersion = 1;
constexpr char kMagic[4] = {'T', 'C', 'P', 'F'};
constexpr size_t kMaxReasonText = 200;
constexpr uint32_t kMaxWindow = 1u << 30;  // a credit beyond this is a protocol error
// The server may send this much DATA on a stream before OPEN_OK: the first
// request travels with the OPEN instead of a round trip later. OPEN_OK's
// window counts these bytes.
constexpr uint32_t kEarlyWindow = 65536;
constexpr size_t kNonceSize = 32;
constexpr size_t kProofSize = 32;  // HMAC-SHA256
constexpr size_t kMaxClientName = 64;
constexpr size_t kSessionIdSize = 16;
constexpr size_t kMaxTag = 64;
constexpr size_t kHelloFixedSize = 8 + kNonceSize + kSessionIdSize + 1;  // + tag
constexpr uint8_t kHelloFlagAuth = 0x01;  // the sender will prove a shared key
// Client only: OPEN and UDP_OPEN may carry a PROXY block (it writes PROXY
// protocol headers to targets), and its OPEN_OKs carry the target's connect
// time (OpenOk). A server never sets it.
constexpr uint8_t kHelloFlagProxy = 0x02;
// Features asked for by the client and granted by the server, which sets
// the same bit in its HELLO only when the client set it and it speaks the
// feature (a client that sets none gets a HELLO without them, as older
// clients expect). Unknown bits are ignored, never an error, so a peer that
// does not know a feature simply does not echo it.
constexpr uint8_t kHelloFlagExpose = 0x04;    // EXPOSE / EXPOSE_REPLY (forward-client --expose)
constexpr uint8_t kHelloFlagRequests = 0x08;  // REQUEST lines of HTTP mappings, server to client
constexpr uint8_t kHelloFeatures = kHelloFlagExpose | kHelloFlagRequests;

enum class Type : uint8_t {
  hello = 0x01,
  open = 0x02,
  open_ok = 0x03,
  open_fail = 0x04,
  data = 0x05,
  eof = 0x06,
  reset = 0x07,
  window = 0x08,
  ping = 0x09,
  pong = 0x0a,
  auth = 0x0b,
  udp_open = 0x0c,
  datagram = 0x0d,
  close = 0x0e,  // the sender ends the channel and says why (u8 reason, text)
  // Both only on a channel whose HELLOs agreed on kHelloFlagExpose.
  expose = 0x0f,        // client -> server: give me a public port (stream id 0)
  expose_reply = 0x10,  // server -> client: the port, or why not (stream id 0)
  request = 0x11,  // server -> client: one HTTP request of an http mapping's stream
};
const char* type_name(Type t);

enum class Role : uint8_t { client = 1, server = 2 };

// OPEN_FAIL and RESET reasons.
enum class Reason : uint8_t {
  refused = 1,
  unreachable = 2,
  timeout = 3,
  dns = 4,
  other = 5,
  not_allowed = 6,
  resource_limit = 7,
};
const char* reason_name(uint8_t r);

struct Header {
  Type type = Type::data;
  uint32_t stream = 0;
  uint32_t length = 0;
};

enum class Result { need_more, ok, error };

void encode_header(const Header& h, uint8_t out[kHeaderSize]);
bool decode_header(const uint8_t in[kHeaderSize], Header& h, std::string& err);

struct Hello {
  uint16_t version = kVersion;
  Role role = Role::client;
  uint8_t flags = 0;  // kHelloFlagAuth
  std::array<uint8_t, kNonceSize> nonce{};
  std::array<uint8_t, kSessionIdSize> session{};  // client: stable across its reconnects
  std::string tag;                                 // client: which mappings it serves
};
struct Auth {
  std::array<uint8_t, kProofSize> proof{};
  std::string name;  // client only: which key ([CLIENTS]); may be empty
};
// What the client needs to write a PROXY protocol header to the target:
// sent only to clients whose HELLO set kHelloFlagProxy. version off: absent.
struct ProxyBlock {
  proxy::Version version = proxy::Version::off;
  proxy::Endpoints ends;  // the public peer (src) and the public listener (dst)
  std::string unique_id;  // 0..kMaxUniqueId printable bytes (PP2_TYPE_UNIQUE_ID)
};

struct Open {
  uint32_t window = 0;
  uint16_t port = 0;
  std::string host;  // 1..255 bytes
  ProxyBlock proxy;  // optional, after host
};
struct Failure {  // OPEN_FAIL and RESET
  uint8_t reason = static_cast<uint8_t>(Reason::other);
  std::string text;
};

// UDP_OPEN: the target of a UDP session.
struct UdpOpen {
  uint16_t port = 0;
  std::string host;  // 1..255 bytes
  ProxyBlock proxy;  // optional, after host; v2 only (per-datagram headers)
};

// EXPOSE: the client asks for a public port that forwards to a target of
// its own choice. u32 request, u8 proto (0 tcp, 1 udp), u8 mode (0 plain,
// 1 http), u16 wanted public port (0: any), u16 target port, u8 n, host[n].
constexpr size_t kExposeFixedSize = 11;
struct Expose {
  uint32_t request = 0;   // the client's number, echoed in the reply
  bool udp = false;
  bool http = false;      // tcp only
  uint16_t public_port = 0;  // 0: the server picks
  uint16_t target_port = 0;
  std::string target_host;   // 1..255 bytes
};
// EXPOSE_REPLY: u32 request, u8 result (ExposeResult), u16 public port (0
// unless ok), text (0..kMaxReasonText bytes: why, when refused).
constexpr size_t kExposeReplyFixedSize = 7;
static_assert(kExposeFixedSize + 255 <= kMaxControlPayload, "EXPOSE fits a control payload");
enum class ExposeResult : uint8_t {
  ok = 0,
  not_granted = 1,  // no [CLIENT_PORTS] grant covers it
  in_use = 2,       // by the server's own mappings or another client
  max_ports = 3,    // the grant's MAX_PORTS reached
  bind_failed = 4,  // the server could not listen on it
  refused = 5,      // any other reason (the text says)
};
const char* expose_result_name(uint8_t r);
struct ExposeReply {
  uint32_t request = 0;
  uint8_t result = 0;
  uint16_t public_port = 0;
  std::string text;
};

// Payload encoders append to out.
void encode_hello(const Hello& h, std::string& out);
void encode_open(const Open& o, std::string& out);
void encode_u32(uint32_t v, std::string& out);  // OPEN_OK window, WINDOW increment
void encode_failure(const Failure& f, std::string& out);
void encode_auth(const Auth& a, std::string& out);
void encode_udp_open(const UdpOpen& u, std::string& out);

bool decode_hello(const uint8_t* p, size_t n, Hello& h, std::string& err);
bool decode_open(const uint8_t* p, size_t n, Open& o, std::string& err);
bool decode_u32(const uint8_t* p, size_t n, uint32_t& v, std::string& err);

// OPEN_OK: the window, and from a client that set kHelloFlagProxy (the
// revision that also sends PROXY blocks) the time it took to resolve and
// connect the target, in microseconds (capped at UINT32_MAX), so the
// server can export it. with_time: whether the peer may send it.
struct OpenOk {
  uint32_t window = 0;
  uint32_t connect_us = 0;  // 0: not sent
};
void encode_open_ok(const OpenOk& ok, bool with_time, std::string& out);
bool decode_open_ok(const uint8_t* p, size_t n, bool with_time, OpenOk& ok, std::string& err);
bool decode_failure(const uint8_t* p, size_t n, Failure& f, std::string& err);
bool decode_auth(const uint8_t* p, size_t n, Auth& a, std::string& err);
bool decode_udp_open(const uint8_t* p, size_t n, UdpOpen& u, std::string& err);
void encode_expose(const Expose& e, std::string& out);
bool decode_expose(const uint8_t* p, size_t n, Expose& e, std::string& err);
void encode_expose_reply(const ExposeReply& r, std::string& out);
bool decode_expose_reply(const uint8_t* p, size_t n, ExposeReply& r, std::string& err);

// REQUEST (server to client, only when both HELLOs set kHelloFlagRequests):
// one HTTP/1.x request the server saw on the stream with this id, of an
// http mapping. u16 status (0: no response, 100-999), u64 response bytes,
// u32 latency in microseconds, u8 n + method (1-16 bytes, 0x21-0x7e),
// u16 n + path (0-256 bytes, as sent, cut), u8 n + public peer (0-64
// bytes), u8 n + public listening address (0-64 bytes). The encoder cuts
// each field to its limit.
constexpr size_t kMaxRequestMethod = 16;
constexpr size_t kMaxRequestPath = 256;
constexpr size_t kMaxRequestAddress = 64;
constexpr uint32_t kRequestFixedSize = 2 + 8 + 4 + 1 + 2 + 1 + 1;
constexpr uint32_t kMaxRequestPayload =
    kRequestFixedSize + kMaxRequestMethod + kMaxRequestPath + 2 * kMaxRequestAddress;
static_assert(kMaxRequestPayload <= kMaxControlPayload, "REQUEST must fit a control payload");
struct Request {
  uint16_t status = 0;
  uint64_t bytes = 0;
  uint32_t latency_us = 0;
  std::string method;
  std::string path;
  std::string peer;     // "127.0.0.7:51234"
  std::string mapping;  // "0.0.0.0:8080"
};
void encode_request(const Request& r, std::string& out);
bool decode_request(const uint8_t* p, size_t n, Request& r, std::string& err);

// Whole frame: header + payload appended to out.
void encode_frame(Type type, uint32_t stream, const std::string& payload, std::string& out);

// Whole-frame decode over a byte buffer (imsg contract): need_more when the
// buffer holds less than one frame, ok with used = bytes consumed, error with
// err set. Used by tests and the fuzz target; the tunnel uses the header
// decoder directly so DATA payloads can move without copies.
struct Frame {
  Header header;
  std::string payload;
};
Result decode(const uint8_t* p, size_t n, Frame& f, size_t& used, std::string& err);

}  // namespace frame
