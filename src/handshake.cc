#include "handshake.h"

#include "address.h"

Handshake::Handshake(frame::Role role, bool tls, AuthSettingsPtr auth, const SessionId& session,
                     std::string tag, Link& link, uint8_t features)
    : role_(role),
      tls_(tls),
      auth_(std::move(auth)),
      session_(session),
      tag_(std::move(tag)),
      link_(link),
      nonce_(random_nonce()),
      features_(features & frame::kHelloFeatures) {}

void Handshake::start() {
  if (role_ == frame::Role::client) send_hello();
}

void Handshake::send_hello() {
  frame::Hello hello;
  hello.role = role_;
  hello.flags = auth_->enabled ? frame::kHelloFlagAuth : 0;
  hello.nonce = nonce_;
  if (role_ == frame::Role::client) {
    hello.flags |= frame::kHelloFlagProxy;  // we write PROXY headers (docs/PROTOCOL.md)
    hello.flags |= features_;
    hello.session = session_;
    hello.tag = tag_;
  } else {
    hello.flags |= agreed_features_;  // only what the client asked for
  }
  hello_sent_.clear();
  frame::encode_hello(hello, hello_sent_);
  link_.send_handshake(frame::Type::hello, hello_sent_);
}

bool Handshake::expects(frame::Type type, std::string& err) const {
  if (stage_ == Stage::done || type == frame::Type::close) return true;
  frame::Type want = stage_ == Stage::hello ? frame::Type::hello : frame::Type::auth;
  if (type == want) return true;
  err = std::string("expected ") + frame::type_name(want) + ", got " + frame::type_name(type);
  return false;
}

std::string Handshake::bad_header_reason(const uint8_t* header, const std::string& err) const {
  if (stage_ != Stage::hello) return err;
  if (header[0] == 0x16 && header[1] == 0x03)
    return "not a tcp-forward peer (a TLS handshake, but this side does not use TLS "
           "(TLS_CERT/TLS_KEY, or drop --tls))";
  return "not a tcp-forward peer (" + err + ")";
}

std::string Handshake::eof_reason() const {
  if (role_ == frame::Role::server) return "closed during the handshake";
  // The server logs the real reason; give the usual suspects here.
  if (stage_ == Stage::auth) return "server closed the channel during authentication: wrong key?";
  if (!auth_->enabled)
    return "server closed the connection during the handshake: does it require a key "
           "(--key-file)?";
  return std::string("server closed the connection during the handshake: ") +
         (tls_ ? "not a tcp-forward server, or it refused our certificate?"
               : "does the server use TLS (then add --tls), or is it not a tcp-forward server?");
}

bool Handshake::check_hello(const frame::Hello& hello, std::string& err) const {
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
  return true;
}

bool Handshake::on_hello(const uint8_t* p, size_t n, std::string& err) {
  if (stage_ != Stage::hello) {
    err = "HELLO after the handshake";
    return false;
  }
  frame::Hello hello;
  if (!frame::decode_hello(p, n, hello, err)) return false;
  hello_received_.assign(reinterpret_cast<const char*>(p), n);
  if (!check_hello(hello, err)) return false;
  bool peer_auth = hello.flags & frame::kHelloFlagAuth;
  agreed_features_ = features_ & hello.flags;
  if (role_ == frame::Role::server)
    server_hello(hello, peer_auth);
  else
    client_hello(peer_auth);
  return true;
}

void Handshake::server_hello(const frame::Hello& hello, bool peer_auth) {
  peer_session_ = hello.session;
  peer_tag_ = hello.tag.empty() ? "default" : hello.tag;
  peer_proxy_ = hello.flags & frame::kHelloFlagProxy;
  // Our HELLO goes first even to a client we refuse: its AUTH flag tells
  // the client why (it needs a key).
  send_hello();
  if (auth_->enabled && !peer_auth) {
    link_.handshake_failed("client has no key, and this server requires one (AUTH_KEY_FILE)");
    return;
  }
  if (auth_->enabled) {
    stage_ = Stage::auth;
    return;
  }
  if (admitted()) done();
}

void Handshake::client_hello(bool peer_auth) {
  if (auth_->enabled && !peer_auth) {
    link_.handshake_failed(
        "server does not authenticate (AUTH = none); refusing it because it cannot prove it knows "
        "the key");
    return;
  }
  if (!auth_->enabled && peer_auth) {
    link_.handshake_failed("server requires a key: give --key-file");
    return;
  }
  if (!auth_->enabled) {
    done();
    return;
  }
  std::string binding;
  if (!link_.channel_binding(binding)) {
    link_.handshake_failed("TLS channel binding unavailable");
    return;
  }
  frame::Auth a;
  a.name = auth_->name;
  a.proof = compute_proof(auth_->key, frame::Role::client, hello_sent_, hello_received_, a.name,
                          binding);
  std::string payload;
  frame::encode_auth(a, payload);
  link_.send_handshake(frame::Type::auth, payload);
  stage_ = Stage::auth;
}

bool Handshake::on_auth(const uint8_t* p, size_t n, std::string& err) {
  frame::Auth a;
  if (!frame::decode_auth(p, n, a, err)) return false;
  if (stage_ != Stage::auth) {
    err = "AUTH outside the handshake";
    return false;
  }
  if (role_ == frame::Role::server)
    server_auth(a);
  else
    client_auth(a);
  return true;
}

// On TLS the proofs must bind the TLS session; without the exporter they
// would bind nothing, so the handshake fails closed.
void Handshake::server_auth(const frame::Auth& a) {
  const Key* key = auth_->key_for(a.name);
  if (!key) {
    link_.handshake_failed("no key for client name '" + printable(a.name) + "'");
    return;
  }
  std::string binding;
  if (!link_.channel_binding(binding)) {
    link_.handshake_failed("TLS channel binding unavailable");
    return;
  }
  Proof want = compute_proof(*key, frame::Role::client, hello_received_, hello_sent_, a.name, binding);
  if (!proof_matches(want, a.proof)) {
    link_.handshake_failed(a.name.empty() ? "wrong key" : "wrong key for client '" + a.name + "'");
    return;
  }
  client_name_ = a.name;
  named_ = auth_->clients.count(a.name) > 0;
  proven_key_ = *key;
  if (!admitted()) return;
  frame::Auth reply;
  reply.proof = compute_proof(*key, frame::Role::server, hello_received_, hello_sent_, a.name, binding);
  std::string payload;
  frame::encode_auth(reply, payload);
  link_.send_handshake(frame::Type::auth, payload);
  done();
}

void Handshake::client_auth(const frame::Auth& a) {
  std::string binding;
  if (!link_.channel_binding(binding)) {
    link_.handshake_failed("TLS channel binding unavailable");
    return;
  }
  Proof want = compute_proof(auth_->key, frame::Role::server, hello_sent_, hello_received_,
                             auth_->name, binding);
  if (!proof_matches(want, a.proof)) {
    link_.handshake_failed("server could not prove the key (wrong key, or not our server)");
    return;
  }
  done();
}

bool Handshake::admitted() {
  std::string why;
  if (link_.admit(why)) return true;
  link_.refuse(why);
  return false;
}

void Handshake::done() {
  stage_ = Stage::done;
  link_.handshake_done();
}
