#pragma once
// Where the API server is and how to authenticate to it: from a kubeconfig
// file (kvlb runs on LB machines outside the cluster) or, inside a pod, from
// the service account.
#include <string>

#include "util/result.h"

namespace kvlb::kube {

struct Access {
  std::string server;           // "https://10.0.0.1:6443"
  std::string ca_pem;           // trust only these CAs; "" = the system store
  std::string client_cert_pem;  // client certificate (chain), PEM
  std::string client_key_pem;
  std::string token;            // bearer token
  std::string token_file;       // bearer token re-read for every request (it rotates); wins over token
  bool insecure_skip_tls_verify = false;
  std::string namespace_;       // the context's namespace (or the pod's), "" if unset
};

// Reads a kubeconfig: the named context, or current-context when context is
// "". Supports clusters (server, certificate-authority[-data],
// insecure-skip-tls-verify), users (client-certificate[-data],
// client-key[-data], token, tokenFile) and contexts. Relative file paths are
// resolved against the kubeconfig's directory; files are read now (except
// tokenFile, which is read per request) and certificates and keys checked.
// Errors name the file and field:
//   kubeconfig /x: users[0].user.client-key-data: not valid base64
Result<Access> load_kubeconfig(const std::string& path, const std::string& context = "");

// Inside a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an
// IPv6 host bracketed), CA root/ca.crt, token root/token (re-read per request),
// namespace root/namespace if present.
Result<Access> in_cluster_access(const std::string& root = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace kvlb::kube
