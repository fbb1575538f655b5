// A self-signed server certificate for forward-server --init (OpenSSL 3
// APIs, in memory, no files): an ECDSA P-256 key and an X.509 v3
// certificate whose subjectAltName lists the host's names and addresses.
// Clients pin it by fingerprint (forward-client --fingerprint), which
// skips the CA, name and validity checks, so the names only serve tools
// that look at them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct SelfSignedCert {
  std::string cert_pem;              // "-----BEGIN CERTIFICATE-----..."
  std::string key_pem;               // PKCS#8, unencrypted: a secret (wipe_secret it)
  std::vector<uint8_t> fingerprint;  // SHA-256 of the certificate (DER), as --fingerprint takes
};

// Makes a key and a certificate with subject CN=common_name, issuer the same,
// a random 128-bit serial, valid from an hour ago for valid_days days,
// basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
// serverAuth and subjectAltName DNS:dns_names, IP:ip_addresses (IP
// literals; one that does not parse fails). false with err on failure.
bool make_self_signed_cert(const std::string& common_name, const std::vector<std::string>& dns_names,
                           const std::vector<std::string>& ip_addresses, int valid_days,
                           SelfSignedCert& out, std::string& err);
