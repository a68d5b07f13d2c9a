#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "kube/access.h"
#include "test_pki.h"

namespace kvlb::kube {
namespace {

using testing::base64;
using testing::KeyAndCert;
using testing::make_cert;
using testing::TempDir;

struct Pki {
  KeyAndCert ca = make_cert("test-ca");
  KeyAndCert client = make_cert("client", false, &ca);
  KeyAndCert other = make_cert("other", false, &ca);
};

const Pki& pki() {
  static const Pki p;
  return p;
}

std::string embedded_kubeconfig(const std::string& user_extra = "") {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- name: other\n"
         "  cluster:\n"
         "    server: https://10.9.9.9:6443\n"
         "    insecure-skip-tls-verify: true\n"
         "- name: test\n"
         "  cluster:\n"
         "    server: https://127.0.0.1:6443/\n"
         "    certificate-authority-data: " + base64(pki().ca.cert_pem) + "\n"
         "users:\n"
         "- name: tokenuser\n"
         "  user:\n"
         "    token: abc.def\n"
         "- name: admin\n"
         "  user:\n"
         "    client-certificate-data: " + base64(pki().client.cert_pem) + "\n"
         "    client-key-data: " + base64(pki().client.key_pem) + "\n" + user_extra +
         "contexts:\n"
         "- name: main\n"
         "  context:\n"
         "    cluster: test\n"
         "    user: admin\n"
         "    namespace: kvlb\n"
         "- name: second\n"
         "  context:\n"
         "    cluster: other\n"
         "    user: tokenuser\n"
         "current-context: main\n";
}

std::string error_of(const Result<Access>& r) {
  if (r.ok()) return "(no error)";
  return r.error().context;
}

TEST(Kubeconfig, EmbeddedDataAndCurrentContext) {
  TempDir dir;
  auto path = dir.write("config", embedded_kubeconfig());
  auto a = load_kubeconfig(path);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(a->server, "https://127.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(a->ca_pem, pki().ca.cert_pem);
  EXPECT_EQ(a->client_cert_pem, pki().client.cert_pem);
  EXPECT_EQ(a->client_key_pem, pki().client.key_pem);
  EXPECT_EQ(a->token, "");
  EXPECT_EQ(a->namespace_, "kvlb");
  EXPECT_FALSE(a->insecure_skip_tls_verify);
}

TEST(Kubeconfig, NamedContext) {
  TempDir dir;
  auto path = dir.write("config", embedded_kubeconfig());
  auto a = load_kubeconfig(path, "second");
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(a->server, "https://10.9.9.9:6443");
  EXPECT_TRUE(a->insecure_skip_tls_verify);
  EXPECT_EQ(a->token, "abc.def");
  EXPECT_EQ(a->client_cert_pem, "");
  EXPECT_EQ(a->ca_pem, "");

  auto missing = load_kubeconfig(path, "nope");
  EXPECT_EQ(error_of(missing), "kubeconfig " + path + ": contexts: no context named \"nope\"");
}

TEST(Kubeconfig, RelativeFilesResolveAgainstTheKubeconfigDirectory) {
  TempDir dir;
  dir.write("pki/ca.crt", pki().ca.cert_pem);
  dir.write("pki/client.crt", pki().client.cert_pem);
  dir.write("pki/client.key", pki().client.key_pem);
  dir.write("pki/token", "tok\n");
  auto path = dir.write("sub/../kube/config",
                        "clusters:\n"
                        "- name: c\n"
                        "  cluster: {server: 'https://k.example:443', certificate-authority: ../pki/ca.crt}\n"
                        "users:\n"
                        "- name: u\n"
                        "  user:\n"
                        "    client-certificate: ../pki/client.crt\n"
                        "    client-key: " + dir.file("pki/client.key") + "\n"
                        "    tokenFile: ../pki/token\n"
                        "contexts:\n"
                        "- {name: x, context: {cluster: c, user: u}}\n"
                        "current-context: x\n");
  // Independent of the working directory.
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path("/");
  auto a = load_kubeconfig(path);
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(a->server, "https://k.example:443");
  EXPECT_EQ(a->ca_pem, pki().ca.cert_pem);
  EXPECT_EQ(a->client_cert_pem, pki().client.cert_pem);
  EXPECT_EQ(a->client_key_pem, pki().client.key_pem);
  EXPECT_EQ(a->token_file, dir.file("pki/token"));
}

TEST(Kubeconfig, ErrorsNameFileAndField) {
  TempDir dir;
  struct Case {
    std::string text;
    std::string expected;  // after "kubeconfig PATH: "
  };
  std::string ca = base64(pki().ca.cert_pem);
  std::string head = "clusters:\n- name: c\n  cluster:\n    server: https://1.2.3.4\n    certificate-authority-data: " + ca + "\n";
  std::string ctx = "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
  std::vector<Case> cases = {
      {head + "users:\n- name: u\n  user:\n    client-certificate-data: " + base64(pki().client.cert_pem) +
           "\n    client-key-data: '!!!notbase64'\n" + ctx,
       "users[0].user.client-key-data: not valid base64"},
      {head + "users:\n- name: z\n- name: u\n  user:\n    client-certificate-data: " + base64(pki().client.cert_pem) +
           "\n    client-key-data: " + base64(pki().other.key_pem) + "\n" + ctx,
       "users[1].user: client key does not match client certificate"},
      {head + "users:\n- name: u\n  user:\n    client-certificate-data: " + base64("hello") + "\n    client-key-data: " +
           base64(pki().client.key_pem) + "\n" + ctx,
       "users[0].user.client-certificate-data: no PEM certificate found"},
      {head + "users:\n- name: u\n  user:\n    client-certificate-data: " + base64(pki().client.cert_pem) + "\n" + ctx,
       "users[0].user: client-certificate without client-key"},
      {head + "users:\n- name: u\n  user:\n    exec: {command: aws}\n" + ctx,
       "users[0].user.exec: not supported by kvlb (use a client certificate or a token)"},
      {"clusters:\n- name: c\n  cluster: {certificate-authority-data: " + ca + "}\nusers: []\n" + ctx,
       "clusters[0].cluster.server: not set"},
      {"clusters:\n- name: c\n  cluster: {server: 'ftp://x'}\n" + ctx,
       "clusters[0].cluster.server: expected an http(s):// URL, got \"ftp://x\""},
      {"clusters:\n- name: c\n  cluster: {server: 'https://x', certificate-authority-data: " + base64("nope") + "}\n" + ctx,
       "clusters[0].cluster.certificate-authority-data: no PEM certificate found"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://x', insecure-skip-tls-verify: maybe}\n" + ctx,
       "clusters[0].cluster.insecure-skip-tls-verify: expected true or false, got \"maybe\""},
      {head + "users: []\n" + ctx, "contexts[0].context.user: no user named \"u\""},
      {head + "contexts:\n- name: x\n  context: {cluster: d}\ncurrent-context: x\n",
       "contexts[0].context.cluster: no cluster named \"d\""},
      {head, "current-context: not set (and no context was asked for)"},
      {"- just\n- a list\n", "not a YAML mapping"},
      {"a: [unclosed\n", "line 2: "},  // prefix; the parser's message follows
  };
  for (const auto& c : cases) {
    auto path = dir.write("config", c.text);
    auto r = load_kubeconfig(path);
    ASSERT_FALSE(r.ok()) << c.expected;
    EXPECT_EQ(error_of(r).rfind("kubeconfig " + path + ": " + c.expected, 0), 0u) << "got: " << error_of(r);
  }
}

TEST(Kubeconfig, MissingFilesAreReported) {
  TempDir dir;
  auto r = load_kubeconfig(dir.file("absent"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
  EXPECT_NE(r.error().describe().find(dir.file("absent")), std::string::npos);

  auto path = dir.write("config",
                        "clusters:\n- name: c\n  cluster: {server: 'https://x', certificate-authority: ca.pem}\n"
                        "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n");
  auto r2 = load_kubeconfig(path);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().context,
            "kubeconfig " + path + ": clusters[0].cluster.certificate-authority: reading " + dir.file("ca.pem"));
  EXPECT_EQ(r2.error().code, std::errc::no_such_file_or_directory);
}

class EnvGuard {
 public:
  EnvGuard(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~EnvGuard() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(InCluster, FromEnvironmentAndServiceAccount) {
  TempDir dir;
  dir.write("token", "sa-token");
  dir.write("ca.crt", pki().ca.cert_pem);
  dir.write("namespace", "kube-system\n");
  {
    EnvGuard h("KUBERNETES_SERVICE_HOST", "10.96.0.1"), p("KUBERNETES_SERVICE_PORT", "443");
    auto a = in_cluster_access(dir.path().string());
    ASSERT_TRUE(a.ok()) << a.error().describe();
    EXPECT_EQ(a->server, "https://10.96.0.1:443");
    EXPECT_EQ(a->token_file, dir.file("token"));
    EXPECT_EQ(a->token, "");  // read per request from token_file
    EXPECT_EQ(a->ca_pem, pki().ca.cert_pem);
    EXPECT_EQ(a->namespace_, "kube-system");
  }
  {
    EnvGuard h("KUBERNETES_SERVICE_HOST", "fd00:10:96::1"), p("KUBERNETES_SERVICE_PORT", "6443");
    auto a = in_cluster_access(dir.path().string());
    ASSERT_TRUE(a.ok()) << a.error().describe();
    EXPECT_EQ(a->server, "https://[fd00:10:96::1]:6443");
  }
  {
    EnvGuard h("KUBERNETES_SERVICE_HOST", std::nullopt), p("KUBERNETES_SERVICE_PORT", "443");
    auto a = in_cluster_access(dir.path().string());
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.error().describe().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  }
  {
    EnvGuard h("KUBERNETES_SERVICE_HOST", "10.96.0.1"), p("KUBERNETES_SERVICE_PORT", "443");
    auto a = in_cluster_access(dir.file("nowhere"));
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.error().describe().find("token"), std::string::npos) << a.error().describe();
  }
}

}  // namespace
}  // namespace kvlb::kube
