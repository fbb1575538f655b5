// Shared-key authentication of a channel (docs/PROTOCOL.md "Handshake").
//
// Each side sends a fresh random nonce in HELLO; each then proves it holds
// the key with HMAC-SHA256 over a label, its role, both HELLO payloads as
// sent (the transcript: version, flags, nonces, session id, tag) and the
// client's name. The key never crosses the wire, a recorded proof is useless
// against a fresh nonce, a proof made as one role is useless as the other,
// and nothing in either HELLO can be altered unnoticed.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frame.h"

using Key = std::vector<uint8_t>;
using Nonce = std::array<uint8_t, frame::kNonceSize>;
using Proof = std::array<uint8_t, frame::kProofSize>;

constexpr size_t kMinKeyBytes = 32;

// Reads a key file: hex or base64 text (whitespace ignored) holding at least
// 32 bytes. Opened as read_secret_file() does: no symbolic link, a regular
// file, not group- or other-writable, not other-readable.
bool load_key_file(const std::string& path, Key& out, std::string& err);
// Decodes key text (hex or base64); exposed for tests.
bool decode_key_text(const std::string& text, Key& out, std::string& err);

Nonce random_nonce();
// binding: TLS keying material when the channel runs over TLS (empty
// otherwise), so a proof made inside one TLS session is worthless in another.
Proof compute_proof(const Key& key, frame::Role prover, const std::string& client_hello,
                    const std::string& server_hello, const std::string& client_name,
                    const std::string& binding);
// Constant-time comparison.
bool proof_matches(const Proof& a, const Proof& b);

// What a tunnel needs to authenticate. Shared (and immutable) so a reload
// can hand new channels new keys while old channels keep theirs.
struct AuthSettings {
  bool enabled = true;
  Key key;                             // client: its key; server: AUTH_KEY_FILE (may be empty)
  std::string name;                    // client: --name sent with its proof
  std::map<std::string, Key> clients;  // server: [CLIENTS] name -> key

  // Server: the key a client called `name` must prove: its [CLIENTS] key,
  // else AUTH_KEY_FILE's; nullptr if neither exists.
  const Key* key_for(const std::string& name) const;
};
using AuthSettingsPtr = std::shared_ptr<const AuthSettings>;
