#pragma once
// PEM certificates and keys through OpenSSL (internal to src/kube): checked
// when a kubeconfig is read, loaded into each TLS context by the client.
#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace kvlb::kube {

struct OpenSslFree {
  void operator()(X509* p) const;
  void operator()(EVP_PKEY* p) const;
};
using X509Ptr = std::unique_ptr<X509, OpenSslFree>;
using PKeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree>;

// Every certificate in pem, in order; the error text says why there is none
// or what is malformed.
Result<std::vector<X509Ptr>, std::string> parse_certificates_pem(std::string_view pem);
// An unencrypted private key (encrypted keys are refused, never prompted for).
Result<PKeyPtr, std::string> parse_private_key_pem(std::string_view pem);

// nullopt when fine, else why not.
std::optional<std::string> check_certificates_pem(std::string_view pem);
std::optional<std::string> check_private_key_pem(std::string_view pem);
std::optional<std::string> check_key_matches(std::string_view cert_pem, std::string_view key_pem);

// The most recent OpenSSL error of this thread as text (and clears the queue).
std::string openssl_error_text();

}  // namespace kvlb::kube
