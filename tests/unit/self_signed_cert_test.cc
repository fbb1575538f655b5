// forward-server --init's certificate (src/self_signed_cert.{h,cc}): an
// ECDSA P-256 key and a self-signed certificate that parse back, match,
// verify, name the host, and whose fingerprint is the one returned.
#include "self_signed_cert.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <arpa/inet.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls.h"

namespace {

using X509Ptr = std::unique_ptr<X509, CFree<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, CFree<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, CFree<BIO_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, CFree<GENERAL_NAMES_free>>;

X509Ptr read_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr read_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// The subjectAltName entries as "DNS:x" / "IP:1.2.3.4", in order.
std::string alt_names(X509* x) {
  NamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  std::string out;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (!out.empty()) out += ",";
    if (gn->type == GEN_DNS) {
      out += "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                                  static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName)));
    } else if (gn->type == GEN_IPADD) {
      int n = ASN1_STRING_length(gn->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = "?";
      inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(gn->d.iPAddress), text, sizeof text);
      out += std::string("IP:") + text;
    }
  }
  return out;
}

}  // namespace

TEST(SelfSignedCert, KeyAndCertificateParseMatchAndVerify) {
  SelfSignedCert c;
  std::string err;
  ASSERT_TRUE(make_self_signed_cert("gw.example", {"gw.example"}, {"127.0.0.1", "::1", "192.0.2.7"},
                                    30, c, err))
      << err;
  X509Ptr x = read_cert(c.cert_pem);
  ASSERT_TRUE(x);
  PkeyPtr key = read_key(c.key_pem);
  ASSERT_TRUE(key);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  char group[64] = {};
  size_t glen = 0;
  ASSERT_EQ(1, EVP_PKEY_get_group_name(key.get(), group, sizeof group, &glen));
  EXPECT_STREQ("prime256v1", group);
  EXPECT_EQ(1, X509_check_private_key(x.get(), key.get()));
  EXPECT_EQ(1, X509_verify(x.get(), key.get()));  // self-signed
  EXPECT_EQ(3 - 1, X509_get_version(x.get()));
  EXPECT_EQ(0, X509_NAME_cmp(X509_get_subject_name(x.get()), X509_get_issuer_name(x.get())));
  EXPECT_EQ(1, X509_check_host(x.get(), "gw.example", 0, 0, nullptr));
  EXPECT_EQ(1, X509_check_ip_asc(x.get(), "127.0.0.1", 0));
  EXPECT_EQ(1, X509_check_ip_asc(x.get(), "::1", 0));
  EXPECT_EQ(1, X509_check_ip_asc(x.get(), "192.0.2.7", 0));
  EXPECT_EQ(0, X509_check_ip_asc(x.get(), "192.0.2.8", 0));
  EXPECT_EQ("DNS:gw.example,IP:127.0.0.1,IP:::1,IP:192.0.2.7", alt_names(x.get()));
  // Not a CA; for servers; valid now, and not past the days asked for.
  EXPECT_EQ(0, X509_check_ca(x.get()));
  EXPECT_EQ(1, X509_check_purpose(x.get(), X509_PURPOSE_SSL_SERVER, 0));
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(x.get())), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(x.get())), 0);
  time_t in31 = time(nullptr) + 31 * 86400;
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(x.get()), &in31), 0);
  // The fingerprint returned is the certificate's SHA-256, as tls.cc pins it.
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(1, X509_digest(x.get(), EVP_sha256(), md, &len));
  EXPECT_EQ(std::vector<uint8_t>(md, md + len), c.fingerprint);
  EXPECT_EQ(32u, c.fingerprint.size());
  std::vector<uint8_t> parsed;
  ASSERT_TRUE(parse_fingerprint(format_fingerprint(c.fingerprint), parsed, err)) << err;
  EXPECT_EQ(c.fingerprint, parsed);
}

TEST(SelfSignedCert, EachOneIsNew) {
  SelfSignedCert a, b;
  std::string err;
  ASSERT_TRUE(make_self_signed_cert("h", {"h"}, {}, 1, a, err)) << err;
  ASSERT_TRUE(make_self_signed_cert("h", {"h"}, {}, 1, b, err)) << err;
  EXPECT_NE(a.key_pem, b.key_pem);
  EXPECT_NE(a.fingerprint, b.fingerprint);
  X509Ptr xa = read_cert(a.cert_pem), xb = read_cert(b.cert_pem);
  EXPECT_NE(0, ASN1_INTEGER_cmp(X509_get0_serialNumber(xa.get()), X509_get0_serialNumber(xb.get())));
}

TEST(SelfSignedCert, AServerTlsContextTakesIt) {
  SelfSignedCert c;
  std::string err;
  ASSERT_TRUE(make_self_signed_cert("h", {}, {"127.0.0.1"}, 1, c, err)) << err;
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  X509Ptr x = read_cert(c.cert_pem);
  PkeyPtr key = read_key(c.key_pem);
  ASSERT_EQ(1, SSL_CTX_use_certificate(ctx.get(), x.get()));
  ASSERT_EQ(1, SSL_CTX_use_PrivateKey(ctx.get(), key.get()));
  EXPECT_EQ(1, SSL_CTX_check_private_key(ctx.get()));
  EXPECT_EQ(format_fingerprint(c.fingerprint), certificate_fingerprint(ctx.get()));
  SslCtxPtr none(SSL_CTX_new(TLS_server_method()));
  EXPECT_EQ("", certificate_fingerprint(none.get()));
}

TEST(SelfSignedCert, LongNamesAndBadAddresses) {
  SelfSignedCert c;
  std::string err;
  std::string longname(70, 'a');  // a CN holds 64 characters at most
  ASSERT_TRUE(make_self_signed_cert(longname, {longname}, {}, 1, c, err)) << err;
  X509Ptr x = read_cert(c.cert_pem);
  EXPECT_EQ(1, X509_check_host(x.get(), longname.c_str(), 0, 0, nullptr));
  EXPECT_FALSE(make_self_signed_cert("h", {}, {"not-an-address"}, 1, c, err));
  EXPECT_NE(std::string::npos, err.find("not-an-address")) << err;
}
