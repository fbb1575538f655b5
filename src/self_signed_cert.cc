#include "self_signed_cert.h"

#include <memory>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ev.h"
#include "tls.h"

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, CFree<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, CFree<X509_free>>;
using BioPtr = std::unique_ptr<BIO, CFree<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, CFree<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, CFree<X509_EXTENSION_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, CFree<GENERAL_NAMES_free>>;
using GenNamePtr = std::unique_ptr<GENERAL_NAME, CFree<GENERAL_NAME_free>>;

// X.520's upper bound on a common name.
constexpr size_t kMaxCommonName = 64;

// A memory BIO's contents.
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// Random, positive, 128 bits (RFC 5280 allows up to 20 octets).
bool set_serial(X509* x) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;
  bytes[0] |= 0x40;  // never a short or zero serial
  BignumPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) != nullptr;
}

bool set_names(X509* x, const std::string& common_name) {
  X509_NAME* name = X509_get_subject_name(x);
  std::string cn = common_name.substr(0, kMaxCommonName);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1)
    return false;
  return X509_set_issuer_name(x, name) == 1;
}

// One extension from its text form ("critical,CA:FALSE"); the certificate
// is its own issuer, so "hash" key identifiers work.
bool add_ext(X509* x, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

// subjectAltName built from values, not from a config string, so no name
// can smuggle in a ',' or another entry.
bool add_alt_names(X509* x, const std::vector<std::string>& dns,
                   const std::vector<std::string>& ips, std::string& err) {
  NamesPtr names(GENERAL_NAMES_new());
  if (!names) return false;
  for (const std::string& d : dns) {
    GenNamePtr gn(GENERAL_NAME_new());
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (!gn || !s || ASN1_STRING_set(s, d.data(), static_cast<int>(d.size())) != 1) {
      ASN1_IA5STRING_free(s);
      return false;
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, s);
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return false;
    gn.release();
  }
  for (const std::string& ip : ips) {
    GenNamePtr gn(GENERAL_NAME_new());
    ASN1_OCTET_STRING* a = a2i_IPADDRESS(ip.c_str());
    if (!a) {
      err = "'" + ip + "' is not an IP address";
      return false;
    }
    if (!gn) {
      ASN1_OCTET_STRING_free(a);
      return false;
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, a);
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return false;
    gn.release();
  }
  if (sk_GENERAL_NAME_num(names.get()) == 0) return true;
  return X509_add1_ext_i2d(x, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1;
}

bool fail(std::string& err, const std::string& what) {
  if (err.empty()) err = what + ": " + openssl_error_text();
  return false;
}

}  // namespace

bool make_self_signed_cert(const std::string& common_name, const std::vector<std::string>& dns_names,
                           const std::vector<std::string>& ip_addresses, int valid_days,
                           SelfSignedCert& out, std::string& err) {
  err.clear();
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return fail(err, "cannot make an ECDSA P-256 key");
  X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1 || !set_serial(x.get()) ||
      !set_names(x.get(), common_name) || X509_set_pubkey(x.get(), key.get()) != 1)
    return fail(err, "cannot make a certificate");
  // An hour back: a client whose clock is a little behind still accepts it.
  if (!X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) ||
      !X509_time_adj_ex(X509_getm_notAfter(x.get()), valid_days, 0, nullptr))
    return fail(err, "cannot set the validity");
  if (!add_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(x.get(), NID_key_usage, "critical,digitalSignature") ||
      !add_ext(x.get(), NID_ext_key_usage, "serverAuth") ||
      !add_ext(x.get(), NID_subject_key_identifier, "hash") ||
      !add_alt_names(x.get(), dns_names, ip_addresses, err))
    return fail(err, "cannot add the certificate's extensions");
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) return fail(err, "cannot sign the certificate");

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(x.get(), EVP_sha256(), md, &md_len) != 1) return fail(err, "cannot hash the certificate");
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_secmem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), x.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return fail(err, "cannot write PEM");
  out.cert_pem = bio_text(cert_bio.get());
  out.key_pem = bio_text(key_bio.get());
  out.fingerprint.assign(md, md + md_len);
  return true;
}
