#include "auth.h"

#include <cctype>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "hex.h"
#include "secret_file.h"

namespace {

const char kProofLabel[] = "tcp-forward channel auth";

}  // namespace

bool decode_key_text(const std::string& text, Key& out, std::string& err) {
  std::string t;
  for (char c : text)
    if (!isspace(static_cast<unsigned char>(c))) t += c;
  out.clear();
  if (t.empty() || !hex_decode(t, out)) {
    if (t.empty() || t.size() % 4 != 0) {
      err = "not hex or base64 text";
      return false;
    }
    std::vector<uint8_t> buf(t.size() / 4 * 3 + 1);
    int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(t.data()),
                            static_cast<int>(t.size()));
    if (n < 0) {
      err = "not hex or base64 text";
      return false;
    }
    // EVP_DecodeBlock counts padding as zero bytes; drop them.
    size_t pad = 0;
    if (t.size() >= 1 && t[t.size() - 1] == '=') ++pad;
    if (t.size() >= 2 && t[t.size() - 2] == '=') ++pad;
    out.assign(buf.begin(), buf.begin() + (n - static_cast<int>(pad)));
  }
  if (out.size() < kMinKeyBytes) {
    err = "key too short: " + std::to_string(out.size()) + " bytes, need at least " +
          std::to_string(kMinKeyBytes) + " (make one with: openssl rand -hex 32)";
    out.clear();
    return false;
  }
  return true;
}

bool load_key_file(const std::string& path, Key& out, std::string& err) {
  std::string text;
  if (!read_secret_file(path, text, err)) return false;
  bool ok = decode_key_text(text, out, err);
  wipe_secret(text);
  return ok;
}

Nonce random_nonce() {
  Nonce n;
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) abort();  // no entropy: never go on
  return n;
}

Proof compute_proof(const Key& key, frame::Role prover, const std::string& client_hello,
                    const std::string& server_hello, const std::string& client_name,
                    const std::string& binding) {
  // Variable-length parts carry a length byte, so no two inputs run together.
  std::string msg(kProofLabel, sizeof kProofLabel);  // includes the NUL as a separator
  msg.push_back(static_cast<char>(prover));
  msg.push_back(static_cast<char>(client_hello.size()));
  msg += client_hello;
  msg.push_back(static_cast<char>(server_hello.size()));
  msg += server_hello;
  msg.push_back(static_cast<char>(client_name.size()));
  msg += client_name;
  msg += binding;
  Proof out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
  return out;
}

bool proof_matches(const Proof& a, const Proof& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

const Key* AuthSettings::key_for(const std::string& client_name) const {
  auto it = clients.find(client_name);
  if (it != clients.end()) return &it->second;
  return key.empty() ? nullptr : &key;
}
