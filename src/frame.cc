#include "frame.h"

#include <algorithm>
#include <cstring>

#include "hex.h"
#include "names.h"

namespace frame {

namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

struct Limits {
  uint32_t min, max;
  bool channel;  // stream id must be 0 (else non-zero)
};

bool limits_for(uint8_t type, Limits& l) {
  switch (static_cast<Type>(type)) {
    case Type::hello: l = {kHelloFixedSize, kHelloFixedSize + kMaxTag, true}; return true;
    case Type::open: l = {8, 7 + 255 + kMaxProxyBlock, false}; return true;
    case Type::open_ok: l = {4, 8, false}; return true;  // + connect time (decode_open_ok)
    case Type::open_fail: l = {1, 1 + kMaxReasonText, false}; return true;
    case Type::data: l = {1, kMaxPayload, false}; return true;
    case Type::eof: l = {0, 0, false}; return true;
    case Type::reset: l = {1, 1 + kMaxReasonText, false}; return true;
    case Type::window: l = {4, 4, false}; return true;
    case Type::ping: l = {8, 8, true}; return true;
    case Type::pong: l = {8, 8, true}; return true;
    case Type::auth: l = {kProofSize + 1, kProofSize + 1 + kMaxClientName, true}; return true;
    case Type::udp_open: l = {4, 3 + 255 + kMaxProxyBlock, false}; return true;
    case Type::datagram: l = {0, kMaxDatagram, false}; return true;
    case Type::close: l = {1, 1 + kMaxReasonText, true}; return true;
    case Type::expose: l = {kExposeFixedSize + 1, kExposeFixedSize + 255, true}; return true;
    case Type::expose_reply:
      l = {kExposeReplyFixedSize, kExposeReplyFixedSize + kMaxReasonText, true};
      return true;
    case Type::request: l = {kRequestFixedSize + 1, kMaxRequestPayload, false}; return true;
  }
  return false;
}

// The PROXY block: u8 version (1 or 2), u8 family (0, 4 or 6), source and
// destination address (0, 4 or 16 bytes each), u16 source and destination
// port, u8 n, unique id[n]. Nothing when the version is off.
void encode_proxy(const ProxyBlock& b, std::string& out) {
  if (b.version == proxy::Version::off) return;
  out.push_back(static_cast<char>(b.version));
  out.push_back(static_cast<char>(b.ends.family));
  size_t a = b.ends.address_size();
  out.append(reinterpret_cast<const char*>(b.ends.src.data()), a);
  out.append(reinterpret_cast<const char*>(b.ends.dst.data()), a);
  uint8_t ports[4];
  put16(ports, b.ends.src_port);
  put16(ports + 2, b.ends.dst_port);
  out.append(reinterpret_cast<char*>(ports), sizeof ports);
  size_t n = std::min(b.unique_id.size(), proxy::kMaxUniqueId);
  out.push_back(static_cast<char>(n));
  out.append(b.unique_id, 0, n);
}

// The whole rest of the payload must be one block.
bool decode_proxy(const uint8_t* p, size_t n, ProxyBlock& b, const char* what, std::string& err) {
  b = ProxyBlock{};
  if (n == 0) return true;
  err = std::string("malformed PROXY block in ") + what;
  if (n < 2) return false;
  if (p[0] != static_cast<uint8_t>(proxy::Version::v1) &&
      p[0] != static_cast<uint8_t>(proxy::Version::v2)) {
    err = std::string(what) + " with unknown PROXY version " + std::to_string(p[0]);
    return false;
  }
  if (p[1] != static_cast<uint8_t>(proxy::Family::unknown) &&
      p[1] != static_cast<uint8_t>(proxy::Family::inet) &&
      p[1] != static_cast<uint8_t>(proxy::Family::inet6)) {
    err = std::string(what) + " with unknown PROXY address family " + std::to_string(p[1]);
    return false;
  }
  b.version = static_cast<proxy::Version>(p[0]);
  b.ends.family = static_cast<proxy::Family>(p[1]);
  size_t a = b.ends.address_size();
  if (n < 2 + 2 * a + 5) return false;
  memcpy(b.ends.src.data(), p + 2, a);
  memcpy(b.ends.dst.data(), p + 2 + a, a);
  const uint8_t* q = p + 2 + 2 * a;
  b.ends.src_port = get16(q);
  b.ends.dst_port = get16(q + 2);
  size_t id = q[4];
  if (id > proxy::kMaxUniqueId || n != 2 + 2 * a + 5 + id) return false;
  b.unique_id.assign(reinterpret_cast<const char*>(q + 5), id);
  for (char c : b.unique_id)
    if (c < 0x21 || c > 0x7e) {
      err = std::string(what) + " with a non-printable PROXY unique id";
      return false;
    }
  err.clear();
  return true;
}

}  // namespace

const char* type_name(Type t) {
  switch (t) {
    case Type::hello: return "HELLO";
    case Type::open: return "OPEN";
    case Type::open_ok: return "OPEN_OK";
    case Type::open_fail: return "OPEN_FAIL";
    case Type::data: return "DATA";
    case Type::eof: return "EOF";
    case Type::reset: return "RESET";
    case Type::window: return "WINDOW";
    case Type::ping: return "PING";
    case Type::pong: return "PONG";
    case Type::auth: return "AUTH";
    case Type::udp_open: return "UDP_OPEN";
    case Type::datagram: return "DATAGRAM";
    case Type::close: return "CLOSE";
    case Type::expose: return "EXPOSE";
    case Type::expose_reply: return "EXPOSE_REPLY";
    case Type::request: return "REQUEST";
  }
  return "?";
}

const char* reason_name(uint8_t r) {
  switch (static_cast<Reason>(r)) {
    case Reason::refused: return "connection refused";
    case Reason::unreachable: return "unreachable";
    case Reason::timeout: return "timed out";
    case Reason::dns: return "DNS failure";
    case Reason::other: return "error";
    case Reason::not_allowed: return "not allowed";
    case Reason::resource_limit: return "resource limit";
  }
  return "unknown reason";
}

const char* expose_result_name(uint8_t r) {
  switch (static_cast<ExposeResult>(r)) {
    case ExposeResult::ok: return "ok";
    case ExposeResult::not_granted: return "not granted";
    case ExposeResult::in_use: return "in use";
    case ExposeResult::max_ports: return "MAX_PORTS reached";
    case ExposeResult::bind_failed: return "bind failed";
    case ExposeResult::refused: return "refused";
  }
  return "unknown result";
}

void encode_header(const Header& h, uint8_t out[kHeaderSize]) {
  out[0] = static_cast<uint8_t>(h.type);
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  put32(out + 4, h.stream);
  put32(out + 8, h.length);
}

bool decode_header(const uint8_t in[kHeaderSize], Header& h, std::string& err) {
  Limits l;
  if (!limits_for(in[0], l)) {
    err = "unknown frame type 0x" + hex_encode(in, 1);
    return false;
  }
  h.type = static_cast<Type>(in[0]);
  if (in[1] != 0 || in[2] != 0 || in[3] != 0) {
    err = std::string("non-zero flags/reserved bits in ") + type_name(h.type) + " frame";
    return false;
  }
  h.stream = get32(in + 4);
  h.length = get32(in + 8);
  if (h.length < l.min || h.length > l.max) {
    err = std::string(type_name(h.type)) + " frame with bad length " + std::to_string(h.length);
    return false;
  }
  if (l.channel != (h.stream == 0)) {
    err = std::string(type_name(h.type)) + " frame with bad stream id " + std::to_string(h.stream);
    return false;
  }
  return true;
}

void encode_hello(const Hello& h, std::string& out) {
  uint8_t b[kHelloFixedSize];
  memcpy(b, kMagic, 4);
  put16(b + 4, h.version);
  b[6] = static_cast<uint8_t>(h.role);
  b[7] = h.flags;
  memcpy(b + 8, h.nonce.data(), kNonceSize);
  memcpy(b + 8 + kNonceSize, h.session.data(), kSessionIdSize);
  size_t n = std::min(h.tag.size(), kMaxTag);
  b[kHelloFixedSize - 1] = static_cast<uint8_t>(n);
  out.append(reinterpret_cast<char*>(b), sizeof b);
  out.append(h.tag, 0, n);
}

bool decode_hello(const uint8_t* p, size_t n, Hello& h, std::string& err) {
  if (n < 8 || memcmp(p, kMagic, 4) != 0) {
    err = "not a tcp-forward HELLO (bad magic)";
    return false;
  }
  h.version = get16(p + 4);
  // Check the size after reading the version, so an old or future peer is
  // told apart from garbage.
  if (n < kHelloFixedSize || n != kHelloFixedSize + p[kHelloFixedSize - 1] ||
      p[kHelloFixedSize - 1] > kMaxTag) {
    err = "HELLO of " + std::to_string(n) + " bytes (version " + std::to_string(h.version) + ")";
    return false;
  }
  // Unknown flag bits are features this side does not speak: ignored, so
  // the peer sees them not echoed (kHelloFeatures).
  h.flags = p[7];
  memcpy(h.nonce.data(), p + 8, kNonceSize);
  memcpy(h.session.data(), p + 8 + kNonceSize, kSessionIdSize);
  h.tag.assign(reinterpret_cast<const char*>(p + kHelloFixedSize), p[kHelloFixedSize - 1]);
  if (!h.tag.empty() && !valid_name(h.tag)) {  // empty: "default"
    err = "HELLO with a non-printable tag";
    return false;
  }
  if (p[6] != static_cast<uint8_t>(Role::client) && p[6] != static_cast<uint8_t>(Role::server)) {
    err = "HELLO with unknown role " + std::to_string(p[6]);
    return false;
  }
  h.role = static_cast<Role>(p[6]);
  return true;
}

void encode_open(const Open& o, std::string& out) {
  uint8_t b[7];
  put32(b, o.window);
  put16(b + 4, o.port);
  size_t n = std::min<size_t>(o.host.size(), 255);
  b[6] = static_cast<uint8_t>(n);
  out.append(reinterpret_cast<char*>(b), sizeof b);
  out.append(o.host, 0, n);
  encode_proxy(o.proxy, out);
}

bool decode_open(const uint8_t* p, size_t n, Open& o, std::string& err) {
  if (n < 8 || n < 7u + p[6] || p[6] == 0) {
    err = "malformed OPEN payload";
    return false;
  }
  if (!decode_proxy(p + 7 + p[6], n - 7 - p[6], o.proxy, "OPEN", err)) return false;
  o.window = get32(p);
  o.port = get16(p + 4);
  o.host.assign(reinterpret_cast<const char*>(p + 7), p[6]);
  if (o.window == 0 || o.window > kMaxWindow) {
    err = "OPEN with bad window " + std::to_string(o.window);
    return false;
  }
  if (o.port == 0) {
    err = "OPEN with port 0";
    return false;
  }
  if (o.host.find('\0') != std::string::npos) {
    err = "OPEN with NUL in host";
    return false;
  }
  return true;
}

void encode_u32(uint32_t v, std::string& out) {
  uint8_t b[4];
  put32(b, v);
  out.append(reinterpret_cast<char*>(b), sizeof b);
}

void encode_open_ok(const OpenOk& ok, bool with_time, std::string& out) {
  encode_u32(ok.window, out);
  if (with_time) encode_u32(ok.connect_us, out);
}

bool decode_open_ok(const uint8_t* p, size_t n, bool with_time, OpenOk& ok, std::string& err) {
  if (n == 8 && !with_time) {
    err = "OPEN_OK with a connect time from a peer that did not announce it";
    return false;
  }
  if (n != 4 && n != 8) {  // as the header check words it
    err = "OPEN_OK frame with bad length " + std::to_string(n);
    return false;
  }
  if (!decode_u32(p, 4, ok.window, err)) return false;
  ok.connect_us = n == 8 ? get32(p + 4) : 0;
  return true;
}

bool decode_u32(const uint8_t* p, size_t n, uint32_t& v, std::string& err) {
  if (n != 4) {
    err = "malformed 32-bit payload";
    return false;
  }
  v = get32(p);
  if (v == 0 || v > kMaxWindow) {
    err = "bad window value " + std::to_string(v);
    return false;
  }
  return true;
}

void encode_failure(const Failure& f, std::string& out) {
  out.push_back(static_cast<char>(f.reason));
  out.append(f.text, 0, kMaxReasonText);
}

bool decode_failure(const uint8_t* p, size_t n, Failure& f, std::string& err) {
  if (n < 1 || n > 1 + kMaxReasonText) {
    err = "malformed failure payload";
    return false;
  }
  f.reason = p[0];
  f.text.assign(reinterpret_cast<const char*>(p + 1), n - 1);
  return true;
}

void encode_request(const Request& r, std::string& out) {
  uint8_t b[2 + 8 + 4];
  put16(b, r.status);
  put32(b + 2, static_cast<uint32_t>(r.bytes >> 32));
  put32(b + 6, static_cast<uint32_t>(r.bytes));
  put32(b + 10, r.latency_us);
  out.append(reinterpret_cast<char*>(b), sizeof b);
  size_t m = std::min(r.method.size(), kMaxRequestMethod);
  out.push_back(static_cast<char>(m));
  out.append(r.method, 0, m);
  size_t path = std::min(r.path.size(), kMaxRequestPath);
  uint8_t len[2];
  put16(len, static_cast<uint16_t>(path));
  out.append(reinterpret_cast<char*>(len), 2);
  out.append(r.path, 0, path);
  for (const std::string* a : {&r.peer, &r.mapping}) {
    size_t k = std::min(a->size(), kMaxRequestAddress);
    out.push_back(static_cast<char>(k));
    out.append(*a, 0, k);
  }
}

bool decode_request(const uint8_t* p, size_t n, Request& r, std::string& err) {
  err = "malformed REQUEST";
  if (n < kRequestFixedSize + 1 || n > kMaxRequestPayload) return false;
  const uint8_t* end = p + n;
  r.status = get16(p);
  if (r.status != 0 && (r.status < 100 || r.status > 999)) {
    err = "REQUEST with status " + std::to_string(r.status);
    return false;
  }
  r.bytes = static_cast<uint64_t>(get32(p + 2)) << 32 | get32(p + 6);
  r.latency_us = get32(p + 10);
  p += 14;
  // Each length is checked against what is left before it is used.
  size_t m = *p++;
  if (m < 1 || m > kMaxRequestMethod || static_cast<size_t>(end - p) < m + 2) return false;
  r.method.assign(reinterpret_cast<const char*>(p), m);
  for (char c : r.method)
    if (c < 0x21 || c > 0x7e) {
      err = "REQUEST with a non-printable method";
      return false;
    }
  p += m;
  size_t path = get16(p);
  p += 2;
  if (path > kMaxRequestPath || static_cast<size_t>(end - p) < path + 1) return false;
  r.path.assign(reinterpret_cast<const char*>(p), path);
  p += path;
  for (std::string* a : {&r.peer, &r.mapping}) {
    if (p == end) return false;
    size_t k = *p++;
    if (k > kMaxRequestAddress || static_cast<size_t>(end - p) < k) return false;
    a->assign(reinterpret_cast<const char*>(p), k);
    p += k;
  }
  if (p != end) return false;
  err.clear();
  return true;
}

void encode_auth(const Auth& a, std::string& out) {
  out.append(reinterpret_cast<const char*>(a.proof.data()), kProofSize);
  size_t n = std::min(a.name.size(), kMaxClientName);
  out.push_back(static_cast<char>(n));
  out.append(a.name, 0, n);
}

bool decode_auth(const uint8_t* p, size_t n, Auth& a, std::string& err) {
  if (n < kProofSize + 1 || n != kProofSize + 1 + p[kProofSize] || p[kProofSize] > kMaxClientName) {
    err = "malformed AUTH payload";
    return false;
  }
  memcpy(a.proof.data(), p, kProofSize);
  a.name.assign(reinterpret_cast<const char*>(p + kProofSize + 1), p[kProofSize]);
  if (!a.name.empty() && !valid_name(a.name)) {  // empty: the shared key
    err = "AUTH with a non-printable client name";
    return false;
  }
  return true;
}

void encode_udp_open(const UdpOpen& u, std::string& out) {
  uint8_t b[3];
  put16(b, u.port);
  size_t n = std::min<size_t>(u.host.size(), 255);
  b[2] = static_cast<uint8_t>(n);
  out.append(reinterpret_cast<char*>(b), sizeof b);
  out.append(u.host, 0, n);
  encode_proxy(u.proxy, out);
}

bool decode_udp_open(const uint8_t* p, size_t n, UdpOpen& u, std::string& err) {
  if (n < 4 || n < 3u + p[2] || p[2] == 0) {
    err = "malformed UDP_OPEN payload";
    return false;
  }
  if (!decode_proxy(p + 3 + p[2], n - 3 - p[2], u.proxy, "UDP_OPEN", err)) return false;
  if (u.proxy.version == proxy::Version::v1) {
    err = "UDP_OPEN with PROXY v1 (v1 has no datagram form)";
    return false;
  }
  u.port = get16(p);
  u.host.assign(reinterpret_cast<const char*>(p + 3), p[2]);
  if (u.port == 0) {
    err = "UDP_OPEN with port 0";
    return false;
  }
  if (u.host.find('\0') != std::string::npos) {
    err = "UDP_OPEN with NUL in host";
    return false;
  }
  return true;
}

void encode_expose(const Expose& e, std::string& out) {
  uint8_t b[kExposeFixedSize];
  put32(b, e.request);
  b[4] = e.udp ? 1 : 0;
  b[5] = e.http ? 1 : 0;
  put16(b + 6, e.public_port);
  put16(b + 8, e.target_port);
  size_t n = std::min<size_t>(e.target_host.size(), 255);
  b[10] = static_cast<uint8_t>(n);
  out.append(reinterpret_cast<char*>(b), sizeof b);
  out.append(e.target_host, 0, n);
}

bool decode_expose(const uint8_t* p, size_t n, Expose& e, std::string& err) {
  if (n < kExposeFixedSize + 1 || p[10] == 0 || n != kExposeFixedSize + p[10]) {
    err = "malformed EXPOSE payload";
    return false;
  }
  if (p[4] > 1) {
    err = "EXPOSE with unknown protocol " + std::to_string(p[4]);
    return false;
  }
  if (p[5] > 1 || (p[5] == 1 && p[4] == 1)) {
    err = "EXPOSE with unknown mode " + std::to_string(p[5]) + (p[4] ? " for udp" : "");
    return false;
  }
  e.request = get32(p);
  e.udp = p[4] == 1;
  e.http = p[5] == 1;
  e.public_port = get16(p + 6);
  e.target_port = get16(p + 8);
  e.target_host.assign(reinterpret_cast<const char*>(p + kExposeFixedSize), p[10]);
  if (e.target_port == 0) {
    err = "EXPOSE with target port 0";
    return false;
  }
  for (char c : e.target_host)
    if (c <= 0x20 || c >= 0x7f) {
      err = "EXPOSE with a non-printable target host";
      return false;
    }
  return true;
}

void encode_expose_reply(const ExposeReply& r, std::string& out) {
  uint8_t b[kExposeReplyFixedSize];
  put32(b, r.request);
  b[4] = r.result;
  put16(b + 5, r.public_port);
  out.append(reinterpret_cast<char*>(b), sizeof b);
  out.append(r.text, 0, kMaxReasonText);
}

bool decode_expose_reply(const uint8_t* p, size_t n, ExposeReply& r, std::string& err) {
  if (n < kExposeReplyFixedSize || n > kExposeReplyFixedSize + kMaxReasonText) {
    err = "malformed EXPOSE_REPLY payload";
    return false;
  }
  r.request = get32(p);
  r.result = p[4];
  r.public_port = get16(p + 5);
  r.text.assign(reinterpret_cast<const char*>(p + kExposeReplyFixedSize), n - kExposeReplyFixedSize);
  if (r.result == static_cast<uint8_t>(ExposeResult::ok) && r.public_port == 0) {
    err = "EXPOSE_REPLY ok without a port";
    return false;
  }
  if (r.result != static_cast<uint8_t>(ExposeResult::ok) && r.public_port != 0) {
    err = "EXPOSE_REPLY refusal with a port";
    return false;
  }
  return true;
}

void encode_frame(Type type, uint32_t stream, const std::string& payload, std::string& out) {
  uint8_t h[kHeaderSize];
  encode_header(Header{type, stream, static_cast<uint32_t>(payload.size())}, h);
  out.append(reinterpret_cast<char*>(h), sizeof h);
  out += payload;
}

Result decode(const uint8_t* p, size_t n, Frame& f, size_t& used, std::string& err) {
  used = 0;
  if (n < kHeaderSize) return Result::need_more;
  if (!decode_header(p, f.header, err)) return Result::error;
  if (n - kHeaderSize < f.header.length) return Result::need_more;
  f.payload.assign(reinterpret_cast<const char*>(p + kHeaderSize), f.header.length);
  used = kHeaderSize + f.header.length;
  return Result::ok;
}

}  // namespace frame
