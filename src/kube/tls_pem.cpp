#include "kube/tls_pem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace kvlb::kube {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memory_bio(std::string_view pem) { return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

void OpenSslFree::operator()(X509* p) const { X509_free(p); }
void OpenSslFree::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

std::string openssl_error_text() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (!last) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  const char* reason = ERR_reason_error_string(last);
  return reason ? std::string(reason) : std::string(buf);
}

Result<std::vector<X509Ptr>, std::string> parse_certificates_pem(std::string_view pem) {
  ERR_clear_error();
  auto bio = memory_bio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  unsigned long err = ERR_peek_last_error();
  if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
    ERR_clear_error();  // the normal end: no further BEGIN line
    if (certs.empty()) return std::string("no PEM certificate found");
    return certs;
  }
  return std::string("malformed PEM certificate: ") + openssl_error_text();
}

Result<PKeyPtr, std::string> parse_private_key_pem(std::string_view pem) {
  // OpenSSL 3's decoders report text without a PEM block as "unsupported": look first.
  if (pem.find("-----BEGIN") == std::string_view::npos || pem.find("PRIVATE KEY-----") == std::string_view::npos)
    return std::string("no PEM private key found");
  if (pem.find("ENCRYPTED") != std::string_view::npos) return std::string("encrypted private keys are not supported");
  ERR_clear_error();
  auto bio = memory_bio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (!key) return std::string("unreadable private key: ") + openssl_error_text();
  return PKeyPtr(key);
}

std::optional<std::string> check_certificates_pem(std::string_view pem) {
  auto certs = parse_certificates_pem(pem);
  if (!certs) return certs.error();
  return std::nullopt;
}

std::optional<std::string> check_private_key_pem(std::string_view pem) {
  auto key = parse_private_key_pem(pem);
  if (!key) return key.error();
  return std::nullopt;
}

std::optional<std::string> check_key_matches(std::string_view cert_pem, std::string_view key_pem) {
  auto certs = parse_certificates_pem(cert_pem);
  if (!certs) return certs.error();
  auto key = parse_private_key_pem(key_pem);
  if (!key) return key.error();
  ERR_clear_error();
  if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
    ERR_clear_error();
    return std::string("client key does not match client certificate");
  }
  return std::nullopt;
}

}  // namespace kvlb::kube
