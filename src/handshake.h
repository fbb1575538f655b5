// The HELLO/AUTH exchange that opens a channel (docs/PROTOCOL.md
// "Handshake"): versions and roles, who needs a key, the proofs (auth.h)
// bound to the TLS session, and on the server the admission of the
// authenticated peer. No I/O: frames come in as payloads, and everything
// else goes through a Link, so it runs without sockets in tests.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "auth.h"
#include "frame.h"

using SessionId = std::array<uint8_t, frame::kSessionIdSize>;

class Handshake {
 public:
  // What the handshake needs from its channel. Each call but
  // send_handshake() and channel_binding() ends the handshake.
  class Link {
   public:
    // Queue a HELLO or AUTH frame (stream 0).
    virtual void send_handshake(frame::Type type, const std::string& payload) = 0;
    // TLS keying material, empty on plain channels; false on TLS without it.
    virtual bool channel_binding(std::string& out) = 0;
    // Server: may this authenticated peer have a channel? false with why.
    virtual bool admit(std::string& why) = 0;
    // Server: admission refused for why; tell the peer and close.
    virtual void refuse(const std::string& why) = 0;
    // Close: authentication failed because of why.
    virtual void handshake_failed(const std::string& why) = 0;
    // The channel is up.
    virtual void handshake_done() = 0;

   protected:
    ~Link() = default;
  };

  enum class Stage { hello, auth, done };

  // session and tag: the client's, sent in its HELLO.
  // features (kHelloFeatures bits): the client asks for them in its HELLO;
  // the server grants those of them the client asked for.
  Handshake(frame::Role role, bool tls, AuthSettingsPtr auth, const SessionId& session,
            std::string tag, Link& link, uint8_t features = 0);

  // Client: sends our HELLO (the server answers the client's).
  void start();
  Stage stage() const { return stage_; }
  // While the handshake runs, only its frame (or CLOSE) may come; false
  // with err ("expected HELLO, got DATA") for any other.
  bool expects(frame::Type type, std::string& err) const;
  // A frame header that would not decode (err): the log's reason, which
  // names a TLS client or a stranger while HELLO is awaited.
  std::string bad_header_reason(const uint8_t* header, const std::string& err) const;
  // HELLO and AUTH payloads. false with err: a protocol error. A failed
  // authentication or a refusal returns true after its Link call.
  bool on_hello(const uint8_t* p, size_t n, std::string& err);
  bool on_auth(const uint8_t* p, size_t n, std::string& err);
  // Why the peer may have closed the connection during the handshake.
  std::string eof_reason() const;

  // Server: who the peer proved to be, and what its HELLO announced.
  const std::string& client_name() const { return client_name_; }
  bool named() const { return named_; }
  const Key& proven_key() const { return proven_key_; }
  const SessionId& peer_session() const { return peer_session_; }
  const std::string& peer_tag() const { return peer_tag_; }
  // Server: the client's HELLO set kHelloFlagProxy (it can write PROXY
  // protocol headers; an older client cannot).
  bool peer_proxy() const { return peer_proxy_; }
  // Both sides: the features both HELLOs set (kHelloFeatures bits); valid
  // once the HELLOs have crossed. Client: a feature it asked for and does
  // not find here is one the server does not support.
  uint8_t agreed_features() const { return agreed_features_; }
  // Our HELLO's nonce: fresh per channel.
  const Nonce& nonce() const { return nonce_; }

 private:
  void send_hello();
  bool check_hello(const frame::Hello& hello, std::string& err) const;
  void server_hello(const frame::Hello& hello, bool peer_auth);
  void client_hello(bool peer_auth);
  void server_auth(const frame::Auth& a);
  void client_auth(const frame::Auth& a);
  // Server: admit the peer, then finish; a refusal closes instead.
  bool admitted();
  void done();

  frame::Role role_;
  bool tls_;
  AuthSettingsPtr auth_;
  SessionId session_;
  std::string tag_;
  Link& link_;
  Stage stage_ = Stage::hello;
  Nonce nonce_;             // ours
  std::string hello_sent_;  // HELLO payloads as sent, for the proofs
  std::string hello_received_;
  std::string client_name_;
  bool named_ = false;  // server: authenticated with a [CLIENTS] key
  Key proven_key_;      // server: the key the client proved
  SessionId peer_session_{};
  std::string peer_tag_;
  bool peer_proxy_ = false;
  uint8_t features_ = 0;         // ours: asked for (client) or offered (server)
  uint8_t agreed_features_ = 0;  // in both HELLOs
};
