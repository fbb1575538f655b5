#include "tls.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "address.h"
#include "hex.h"
#include "secret_file.h"
#include "unique_fd.h"

namespace {

const char kExporterLabel[] = "EXPORTER-tcp-forward-channel-binding";


using Pins = std::vector<std::vector<uint8_t>>;

void free_pin(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<Pins*>(ptr);
}

// The pinned fingerprints live in the context's ex_data slot.
int pin_index() {
  static int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_pin);
  return idx;
}

std::vector<uint8_t> cert_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  return std::vector<uint8_t>(md, md + len);
}

// With pins, the leaf certificate's fingerprint decides alone: a pinned
// self-signed certificate needs no CA, and no unpinned certificate passes.
int verify_pinned(int preverify, X509_STORE_CTX* store) {
  int depth = X509_STORE_CTX_get_error_depth(store);
  if (depth > 0) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* pins = static_cast<Pins*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pin_index()));
  (void)preverify;
  if (!pins) return 0;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (cert && std::find(pins->begin(), pins->end(), cert_sha256(cert)) != pins->end()) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}


SslCtxPtr base_ctx(const SSL_METHOD* method, std::string& err) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) {
    err = "cannot create TLS context: " + openssl_error_text();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Read-ahead into a 64 KiB buffer takes about four records per read
  // system call instead of two calls (header, body) per record; TlsIo
  // (tls_io.h) reads what is left there without a socket event.
  // SSL_MODE_RELEASE_BUFFERS would free and reallocate that buffer around
  // every read of a bulk transfer, so the one buffer per channel is kept.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  SSL_CTX_set_default_read_buffer_len(ctx.get(), 64u << 10);
  // AES-128-GCM first: AES-NI makes it the fastest suite on servers, and
  // the server's order decides.
  SSL_CTX_set_ciphersuites(ctx.get(),
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_cipher_list(ctx.get(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  // A peer that closes without close_notify just ends the channel: the
  // frame layer already tells a complete stream from a cut one, so there is
  // no truncation to guard against here.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
  return ctx;
}

// OpenSSL reports a missing file as a stack of three errors; say it once,
// as every other file error in a configuration is said.
bool readable_file(const std::string& path, std::string& err) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0) {
    err = strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    err = "not a regular file";
    return false;
  }
  return true;
}

// A private key is a secret: read_secret_file() opens it (no symbolic link,
// a safe mode) and OpenSSL parses it from memory, never by path.
bool use_private_key(SSL_CTX* ctx, const std::string& path, std::string& err) {
  std::string pem;
  if (!read_secret_file(path, pem, err)) return false;
  std::unique_ptr<BIO, CFree<BIO_free>> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, CFree<EVP_PKEY_free>> key;
  if (bio)
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, SSL_CTX_get_default_passwd_cb(ctx),
                                      SSL_CTX_get_default_passwd_cb_userdata(ctx)));
  bio.reset();
  wipe_secret(pem);
  if (!key || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    err = openssl_error_text();
    return false;
  }
  return true;
}

}  // namespace

std::string openssl_error_text() {
  // Reasons only ("no start line", "key values mismatch"), each once: the
  // library's codes and the generic "system lib" lines repeat what the
  // first entry says and mean nothing to an administrator.
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    std::string r = reason ? reason : "error " + std::to_string(ERR_GET_REASON(e));
    bool generic = r.size() > 4 && r.compare(r.size() - 4, 4, " lib") == 0;  // "PEM lib"
    if (generic || out.find(r) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += r;
  }
  return out.empty() ? "unknown error" : out;
}

namespace {
// What the peer's certificate check said, if it failed.
void add_verify_result(SSL* ssl, std::string& out) {
  long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (v == X509_V_OK) return;
  if (!out.empty()) out += ": ";
  out += X509_verify_cert_error_string(v);
}
}  // namespace

namespace {
// The reasons of one error queue (next() pops an entry, 0 when empty),
// joined with "; ". Entries without a reason are left out: libevent also
// queues bare SSL_get_error() codes.
template <typename Next>
std::string join_reasons(Next next) {
  std::string out;
  unsigned long e;
  while ((e = next()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    if (!reason) continue;
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out;
}
}  // namespace

std::string tls_error_text(bufferevent* bev) {
  std::string out = join_reasons([bev] { return bufferevent_get_openssl_error(bev); });
  add_verify_result(bufferevent_openssl_get_ssl(bev), out);
  return out;
}

std::string tls_error_text(SSL* ssl) {
  std::string out = join_reasons(ERR_get_error);
  add_verify_result(ssl, out);
  return out.empty() ? "unknown error" : out;
}

std::string tls_summary(bufferevent* bev) {
  SSL* ssl = bufferevent_openssl_get_ssl(bev);
  if (!ssl) return "TLS";
  return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

bool tls_channel_binding(bufferevent* bev, std::string& out) {
  out.clear();
  SSL* ssl = bufferevent_openssl_get_ssl(bev);
  if (!ssl) return false;
  unsigned char km[32];
  if (SSL_export_keying_material(ssl, km, sizeof km, kExporterLabel, strlen(kExporterLabel),
                                 nullptr, 0, 0) != 1) {
    ERR_clear_error();  // leave no stale entry for the next error text
    return false;
  }
  out.assign(reinterpret_cast<char*>(km), sizeof km);
  return true;
}

bool parse_fingerprint(const std::string& text, std::vector<uint8_t>& out, std::string& err) {
  std::string t = text;
  if (t.size() > 7 && strncasecmp(t.c_str(), "SHA256:", 7) == 0) t = t.substr(7);
  std::string hex;
  for (char c : t)
    if (c != ':') hex += c;
  out.clear();
  if (hex.size() != 64) {
    err = "expected SHA256: followed by 64 hex digits";
    return false;
  }
  for (char c : hex)
    if (hex_digit(c) < 0) {
      err = "'" + printable(std::string(1, c)) + "' is not a hex digit";
      return false;
    }
  return hex_decode(hex, out);
}

std::string format_fingerprint(const std::vector<uint8_t>& fp) {
  return "SHA256:" + hex_encode(fp.data(), fp.size(), true, ':');
}

std::string certificate_fingerprint(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  return cert ? format_fingerprint(cert_sha256(cert)) : "";
}

SslCtxPtr make_server_tls(const ServerTlsFiles& files, std::string& err, std::string* failed) {
  auto fail = [&](const char* key, const std::string& path, const std::string& why) {
    if (failed) *failed = key;
    err = std::string(key) + " '" + path + "': " + why;
    return nullptr;
  };
  SslCtxPtr ctx = base_ctx(TLS_server_method(), err);
  if (!ctx) return nullptr;
  if (!readable_file(files.cert, err)) return fail("TLS_CERT", files.cert, err);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1)
    return fail("TLS_CERT", files.cert, "not a PEM certificate: " + openssl_error_text());
  if (!use_private_key(ctx.get(), files.key, err))
    return fail("TLS_KEY", files.key,
                err == "key values mismatch" ? "does not match TLS_CERT '" + files.cert + "'" : err);
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return fail("TLS_KEY", files.key, "does not match TLS_CERT '" + files.cert + "'");
  }
  if (!files.client_ca.empty()) {
    if (!readable_file(files.client_ca, err)) return fail("TLS_CLIENT_CA", files.client_ca, err);
    if (SSL_CTX_load_verify_locations(ctx.get(), files.client_ca.c_str(), nullptr) != 1)
      return fail("TLS_CLIENT_CA", files.client_ca,
                  "not a PEM certificate: " + openssl_error_text());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

SslCtxPtr make_client_tls(const ClientTlsOptions& opts, std::string& err) {
  SslCtxPtr ctx = base_ctx(TLS_client_method(), err);
  if (!ctx) return nullptr;
  if (!opts.fingerprints.empty()) {
    SSL_CTX_set_ex_data(ctx.get(), pin_index(), new Pins(opts.fingerprints));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, verify_pinned);
  } else {
    int ok = opts.ca_file.empty()
                 ? SSL_CTX_set_default_verify_paths(ctx.get())
                 : SSL_CTX_load_verify_locations(ctx.get(), opts.ca_file.c_str(), nullptr);
    if (ok != 1) {
      err = (opts.ca_file.empty() ? std::string("system trust store")
                                  : "--ca-file '" + opts.ca_file + "'") +
            ": " + openssl_error_text();
      return nullptr;
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  if (!opts.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), opts.cert.c_str()) != 1) {
      err = "--cert '" + opts.cert + "': " + openssl_error_text();
      return nullptr;
    }
    std::string key = opts.cert_key.empty() ? opts.cert : opts.cert_key;
    if (!use_private_key(ctx.get(), key, err)) {
      err = "--cert-key '" + key + "': " + err;
      return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      err = "--cert-key '" + key + "': " + openssl_error_text();
      return nullptr;
    }
  }
  return ctx;
}

SslPtr new_client_ssl(SSL_CTX* ctx, const ClientTlsOptions& opts, const std::string& server_host,
                      std::string& err) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl) {
    err = "cannot create TLS session: " + openssl_error_text();
    return nullptr;
  }
  const std::string& name = opts.server_name.empty() ? server_host : opts.server_name;
  sockaddr_storage ss;
  socklen_t len;
  bool is_ip = ip_literal_to_sockaddr(name, 1, ss, len);
  if (!is_ip) SSL_set_tlsext_host_name(ssl.get(), name.c_str());
  if (opts.fingerprints.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    if (ok != 1) {
      err = "cannot verify server name '" + name + "'";
      return nullptr;
    }
  }
  return ssl;
}
