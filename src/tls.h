// TLS for the channel (OpenSSL 3): contexts from configuration, peer
// verification (CA + host name, or a pinned certificate fingerprint) and
// OpenSSL error text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "ev.h"

using SslCtxPtr = std::unique_ptr<SSL_CTX, CFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, CFree<SSL_free>>;

struct ServerTlsFiles {
  std::string cert;       // TLS_CERT (PEM chain)
  std::string key;        // TLS_KEY
  std::string client_ca;  // TLS_CLIENT_CA: when set, clients need a certificate it signed
};

struct ClientTlsOptions {
  bool enabled = false;
  std::string ca_file;                  // --ca-file; empty: the system trust store
  // --fingerprint (repeatable): SHA-256 of the certificate (DER); a server
  // passes when its certificate matches any of them, so one client can pin
  // a different certificate for each of its servers.
  std::vector<std::vector<uint8_t>> fingerprints;
  std::string cert, cert_key;           // --cert / --cert-key for mutual TLS
  std::string server_name;              // --server-name; default: SERVER_HOST
};

// Both return nullptr with err set on failure. TLS 1.2 is the minimum.
// On failure err says which file and why ("TLS_CERT 'x': No such file or
// directory") and *failed (if given) names the key: TLS_CERT, TLS_KEY or
// TLS_CLIENT_CA.
SslCtxPtr make_server_tls(const ServerTlsFiles& files, std::string& err,
                          std::string* failed = nullptr);
SslCtxPtr make_client_tls(const ClientTlsOptions& opts, std::string& err);
// A client SSL for one connection: SNI plus host-name (or IP) verification,
// unless a fingerprint is pinned.
SslPtr new_client_ssl(SSL_CTX* ctx, const ClientTlsOptions& opts, const std::string& server_host,
                      std::string& err);

// "SHA256:ab:cd:..." or plain hex (64 digits, colons optional).
bool parse_fingerprint(const std::string& text, std::vector<uint8_t>& out, std::string& err);
std::string format_fingerprint(const std::vector<uint8_t>& fp);
// The fingerprint of ctx's own certificate, formatted; "" without one.
std::string certificate_fingerprint(SSL_CTX* ctx);

// Drains OpenSSL's error queue (and the bufferevent's) into one line.
std::string openssl_error_text();
std::string tls_error_text(bufferevent* bev);
// The same from OpenSSL's own queue, after an SSL_read or SSL_write on ssl.
std::string tls_error_text(SSL* ssl);
// 32 bytes of TLS keying material (RFC 5705 exporter) for channel binding.
// False (out empty) when there is none: not a TLS bufferevent, or no
// finished handshake. The caller must then fail closed.
bool tls_channel_binding(bufferevent* bev, std::string& out);
// "TLSv1.3 TLS_AES_128_GCM_SHA256": what the handshake settled on, for logs.
std::string tls_summary(bufferevent* bev);
