// Key files and proofs (src/auth.{h,cc}).
#include "auth.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

Key key_of(uint8_t fill, size_t n = 32) { return Key(n, fill); }

// A temporary file with the given text and mode, removed at scope exit.
struct TempFile {
  std::string path;
  TempFile(const std::string& text, mode_t mode) {
    char tmpl[] = "/tmp/tcpf-auth-test-XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(static_cast<ssize_t>(text.size()), write(fd, text.data(), text.size()));
    close(fd);
    path = tmpl;
    chmod(path.c_str(), mode);
  }
  ~TempFile() { unlink(path.c_str()); }
};

const std::string kHex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

}  // namespace

TEST(KeyText, HexWithWhitespace) {
  Key k;
  std::string err;
  ASSERT_TRUE(decode_key_text(kHex64 + "\n", k, err)) << err;
  ASSERT_EQ(32u, k.size());
  for (size_t i = 0; i < k.size(); ++i) EXPECT_EQ(i, k[i]);
  ASSERT_TRUE(decode_key_text(" " + kHex64.substr(0, 32) + "\n" + kHex64.substr(32) + " \n", k, err));
  EXPECT_EQ(32u, k.size());
}

TEST(KeyText, UpperCaseHex) {
  std::string up = kHex64;
  for (char& c : up) c = static_cast<char>(toupper(c));
  Key k;
  std::string err;
  ASSERT_TRUE(decode_key_text(up, k, err)) << err;
  EXPECT_EQ(0x1f, k[31]);
}

TEST(KeyText, Base64) {
  // 33 bytes of 0xff encode without padding; 32 bytes need one '='.
  Key k;
  std::string err;
  ASSERT_TRUE(decode_key_text(std::string(44, '/'), k, err)) << err;
  EXPECT_EQ(33u, k.size());
  std::string b64_32 = std::string(42, 'A') + "A=";
  ASSERT_TRUE(decode_key_text(b64_32, k, err)) << err;
  EXPECT_EQ(32u, k.size());
}

TEST(KeyText, TooShortOrGarbage) {
  Key k;
  std::string err;
  EXPECT_FALSE(decode_key_text(kHex64.substr(0, 62), k, err));  // 31 bytes
  EXPECT_NE(std::string::npos, err.find("too short")) << err;
  EXPECT_FALSE(decode_key_text("", k, err));
  EXPECT_FALSE(decode_key_text("password", k, err));
  EXPECT_FALSE(decode_key_text("not a key at all, certainly not!!", k, err));
  EXPECT_TRUE(k.empty());
}

TEST(KeyFile, LoadsPrivateFile) {
  TempFile f(kHex64 + "\n", 0600);
  Key k;
  std::string err;
  ASSERT_TRUE(load_key_file(f.path, k, err)) << err;
  EXPECT_EQ(32u, k.size());
  TempFile g(kHex64, 0640);
  EXPECT_TRUE(load_key_file(g.path, k, err)) << err;
}

TEST(KeyFile, RefusesFilesOthersCanRead) {
  for (mode_t mode : {0644, 0604, 0602, 0666}) {
    TempFile f(kHex64, mode);
    Key k;
    std::string err;
    EXPECT_FALSE(load_key_file(f.path, k, err)) << std::oct << mode;
    EXPECT_NE(std::string::npos, err.find("other users")) << err;
  }
}

TEST(KeyFile, MissingFileAndDirectory) {
  Key k;
  std::string err;
  EXPECT_FALSE(load_key_file("/nonexistent/tcpf.key", k, err));
  EXPECT_NE(std::string::npos, err.find("No such file")) << err;
  EXPECT_FALSE(load_key_file("/tmp", k, err));
}

TEST(Proof, DeterministicAndSensitiveToEveryInput) {
  Key k = key_of(7);
  std::string ch = "client hello bytes", sh = "server hello bytes";
  Proof base = compute_proof(k, frame::Role::client, ch, sh, "", "");
  EXPECT_TRUE(proof_matches(base, compute_proof(k, frame::Role::client, ch, sh, "", "")));
  EXPECT_FALSE(proof_matches(base, compute_proof(key_of(8), frame::Role::client, ch, sh, "", "")));
  EXPECT_FALSE(proof_matches(base, compute_proof(k, frame::Role::server, ch, sh, "", "")));
  EXPECT_FALSE(proof_matches(base, compute_proof(k, frame::Role::client, ch + "x", sh, "", "")));
  EXPECT_FALSE(proof_matches(base, compute_proof(k, frame::Role::client, ch, sh + "x", "", "")));
  EXPECT_FALSE(proof_matches(base, compute_proof(k, frame::Role::client, sh, ch, "", "")));
  EXPECT_FALSE(proof_matches(base, compute_proof(k, frame::Role::client, ch, sh, "a", "")));
  EXPECT_FALSE(proof_matches(base, compute_proof(k, frame::Role::client, ch, sh, "", "tls")));
}

TEST(Proof, PartsDoNotRunTogether) {
  // Every variable part is length-prefixed, so moving bytes across a
  // boundary changes the proof.
  Key k = key_of(9);
  EXPECT_FALSE(proof_matches(compute_proof(k, frame::Role::client, "ab", "c", "", ""),
                             compute_proof(k, frame::Role::client, "a", "bc", "", "")));
  EXPECT_FALSE(proof_matches(compute_proof(k, frame::Role::client, "h", "s", "ab", "c"),
                             compute_proof(k, frame::Role::client, "h", "s", "a", "bc")));
}

TEST(Nonce, FreshEachTime) {
  Nonce a = random_nonce(), b = random_nonce();
  EXPECT_NE(a, b);
}

TEST(AuthSettings, KeyLookup) {
  AuthSettings s;
  EXPECT_EQ(nullptr, s.key_for(""));
  s.key = key_of(1);
  EXPECT_EQ(&s.key, s.key_for(""));
  EXPECT_EQ(&s.key, s.key_for("unknown"));  // falls back to the shared key
  s.clients["branch"] = key_of(2);
  ASSERT_NE(nullptr, s.key_for("branch"));
  EXPECT_EQ(key_of(2), *s.key_for("branch"));
  s.key.clear();
  EXPECT_EQ(nullptr, s.key_for("unknown"));  // only named keys: strangers get nothing
  EXPECT_EQ(nullptr, s.key_for(""));
}
