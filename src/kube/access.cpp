#include "kube/access.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include "config/yaml_tree.h"
#include "kube/tls_pem.h"

namespace kvlb::kube {
namespace {

using config::YamlDocument;
using config::YamlNode;

Result<std::string> read_whole_file(const std::string& path, const std::string& context) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from_errno(errno ? errno : ENOENT, context + ": reading " + path);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Error::from_errno(errno ? errno : EIO, context + ": reading " + path);
  return out.str();
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  clean.reserve(text.size());
  for (char c : text)
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') clean.push_back(c);
  if (clean.empty() || clean.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (size_t i = 0; i < clean.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = clean[i + k];
      if (c == '=') {
        // padding only at the very end, at most two, nothing after it
        if (i + 4 != clean.size() || k < 2) return std::nullopt;
        ++pad;
        v[k] = 0;
      } else {
        if (pad) return std::nullopt;
        v[k] = value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    uint32_t n = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out.push_back(char((n >> 16) & 0xff));
    if (pad < 2) out.push_back(char((n >> 8) & 0xff));
    if (pad < 1) out.push_back(char(n & 0xff));
  }
  return out;
}

// Reads one kubeconfig and reports errors as "kubeconfig PATH: FIELD: message".
class KubeconfigReader {
 public:
  KubeconfigReader(std::string path) : path_(std::move(path)) {
    auto dir = std::filesystem::path(path_).parent_path();
    dir_ = dir.empty() ? std::filesystem::path(".") : dir;
  }

  Result<Access> read(const std::string& wanted_context) {
    auto text = read_whole_file(path_, "kubeconfig");
    if (!text) return text.error();
    auto doc = YamlDocument::parse(*text);
    if (!doc.ok()) return fail("line " + std::to_string(doc.error()->line), doc.error()->message);
    auto root = doc.root();
    if (!root || !root->is_mapping()) return fail("", "not a YAML mapping");

    std::string context_name = wanted_context;
    if (context_name.empty()) {
      auto current = scalar(*root, "current-context");
      if (!current || current->empty()) return fail("current-context", "not set (and no context was asked for)");
      context_name = *current;
    }
    auto context = find_named(*root, "contexts", context_name);
    if (!context) return fail("contexts", "no context named \"" + context_name + "\"");
    std::string ctx_field = "contexts[" + std::to_string(context->index) + "].context";
    auto ctx_body = context->entry.find("context");
    if (!ctx_body || !ctx_body->is_mapping()) return fail(ctx_field, "missing");

    Access access;
    if (auto ns = scalar(*ctx_body, "namespace")) access.namespace_ = *ns;

    auto cluster_name = scalar(*ctx_body, "cluster");
    if (!cluster_name || cluster_name->empty()) return fail(ctx_field + ".cluster", "not set");
    auto cluster = find_named(*root, "clusters", *cluster_name);
    if (!cluster) return fail(ctx_field + ".cluster", "no cluster named \"" + *cluster_name + "\"");
    if (auto s = read_cluster(*cluster, access); !s) return s.error();

    auto user_name = scalar(*ctx_body, "user");
    if (user_name && !user_name->empty()) {
      auto user = find_named(*root, "users", *user_name);
      if (!user) return fail(ctx_field + ".user", "no user named \"" + *user_name + "\"");
      if (auto s = read_user(*user, access); !s) return s.error();
    }
    return access;
  }

 private:
  struct Named {
    YamlNode entry;
    size_t index;
  };

  Error fail(const std::string& field, const std::string& message) const {
    std::string text = "kubeconfig " + path_ + ": ";
    if (!field.empty()) text += field + ": ";
    return Error::invalid(text + message);
  }

  static std::optional<std::string> scalar(const YamlNode& map, std::string_view key) {
    auto v = map.find(key);
    if (!v || !v->is_scalar()) return std::nullopt;
    return std::string(v->text());
  }

  std::optional<Named> find_named(const YamlNode& root, std::string_view list, const std::string& name) const {
    auto seq = root.find(list);
    if (!seq || !seq->is_sequence()) return std::nullopt;
    for (size_t i = 0; i < seq->size(); ++i) {
      auto item = seq->item(i);
      if (!item.is_mapping()) continue;
      auto n = scalar(item, "name");
      if (n && *n == name) return Named{item, i};
    }
    return std::nullopt;
  }

  std::string resolve(const std::string& file) const {
    std::filesystem::path p(file);
    if (p.is_absolute()) return file;
    return (dir_ / p).lexically_normal().string();
  }

  // PEM text from "<key>-data" (base64) or "<key>" (a file path); "" if neither.
  Result<std::string> pem_field(const YamlNode& body, const std::string& field_prefix, std::string_view key) const {
    std::string data_key = std::string(key) + "-data";
    if (auto data = body.find(data_key); data && !data->is_null()) {
      std::string field = field_prefix + "." + data_key;
      if (!data->is_scalar()) return fail(field, "expected a base64 string");
      auto decoded = base64_decode(data->text());
      if (!decoded) return fail(field, "not valid base64");
      return *decoded;
    }
    if (auto file = body.find(key); file && !file->is_null()) {
      std::string field = field_prefix + "." + std::string(key);
      if (!file->is_scalar() || file->text().empty()) return fail(field, "expected a file path");
      auto path = resolve(std::string(file->text()));
      auto text = read_whole_file(path, "kubeconfig " + path_ + ": " + field);
      if (!text) return text.error();
      return *text;
    }
    return std::string();
  }

  std::string field_of(const std::string& prefix, const YamlNode& body, std::string_view key) const {
    std::string data_key = std::string(key) + "-data";
    if (auto d = body.find(data_key); d && !d->is_null()) return prefix + "." + data_key;
    return prefix + "." + std::string(key);
  }

  Status read_cluster(const Named& cluster, Access& access) const {
    std::string field = "clusters[" + std::to_string(cluster.index) + "].cluster";
    auto body = cluster.entry.find("cluster");
    if (!body || !body->is_mapping()) return fail(field, "missing");
    auto server = scalar(*body, "server");
    if (!server || server->empty()) return fail(field + ".server", "not set");
    if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0)
      return fail(field + ".server", "expected an http(s):// URL, got \"" + *server + "\"");
    while (server->size() > 1 && server->back() == '/') server->pop_back();
    access.server = *server;
    for (const char* unsupported : {"proxy-url", "tls-server-name"})
      if (auto v = body->find(unsupported); v && !v->is_null())
        return fail(field + "." + unsupported, "not supported by kvlb");
    if (auto v = scalar(*body, "insecure-skip-tls-verify")) {
      if (*v == "true" || *v == "True" || *v == "TRUE") access.insecure_skip_tls_verify = true;
      else if (!(*v == "false" || *v == "False" || *v == "FALSE"))
        return fail(field + ".insecure-skip-tls-verify", "expected true or false, got \"" + *v + "\"");
    }
    auto ca = pem_field(*body, field, "certificate-authority");
    if (!ca) return ca.error();
    if (!ca->empty()) {
      if (auto err = check_certificates_pem(*ca)) return fail(field_of(field, *body, "certificate-authority"), *err);
      access.ca_pem = std::move(*ca);
    }
    return ok_status();
  }

  Status read_user(const Named& user, Access& access) const {
    std::string field = "users[" + std::to_string(user.index) + "].user";
    auto body = user.entry.find("user");
    if (!body || body->is_null()) return ok_status();  // anonymous
    if (!body->is_mapping()) return fail(field, "expected a mapping");
    for (const char* unsupported : {"exec", "auth-provider", "username", "password", "as"})
      if (auto v = body->find(unsupported); v && !v->is_null())
        return fail(field + "." + unsupported, "not supported by kvlb (use a client certificate or a token)");

    auto cert = pem_field(*body, field, "client-certificate");
    if (!cert) return cert.error();
    auto key = pem_field(*body, field, "client-key");
    if (!key) return key.error();
    if (cert->empty() != key->empty())
      return fail(field, cert->empty() ? "client-key without client-certificate" : "client-certificate without client-key");
    if (!cert->empty()) {
      if (auto err = check_certificates_pem(*cert)) return fail(field_of(field, *body, "client-certificate"), *err);
      if (auto err = check_private_key_pem(*key)) return fail(field_of(field, *body, "client-key"), *err);
      if (auto err = check_key_matches(*cert, *key)) return fail(field, *err);
      access.client_cert_pem = std::move(*cert);
      access.client_key_pem = std::move(*key);
    }
    if (auto token = scalar(*body, "token")) access.token = *token;
    if (auto v = body->find("tokenFile"); v && !v->is_null()) {
      if (!v->is_scalar() || v->text().empty()) return fail(field + ".tokenFile", "expected a file path");
      access.token_file = resolve(std::string(v->text()));
      auto text = read_whole_file(access.token_file, "kubeconfig " + path_ + ": " + field + ".tokenFile");
      if (!text) return text.error();
    }
    return ok_status();
  }

  std::string path_;
  std::filesystem::path dir_;
};

}  // namespace

Result<Access> load_kubeconfig(const std::string& path, const std::string& context) {
  return KubeconfigReader(path).read(context);
}

Result<Access> in_cluster_access(const std::string& root) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return Error::invalid("in-cluster access: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  Access access;
  access.server = "https://" + h + ":" + port;
  access.token_file = root + "/token";
  auto token = read_whole_file(access.token_file, "in-cluster access: token");
  if (!token) return token.error();
  auto ca = read_whole_file(root + "/ca.crt", "in-cluster access: CA");
  if (!ca) return ca.error();
  if (auto err = check_certificates_pem(*ca)) return Error::invalid("in-cluster access: " + root + "/ca.crt: " + *err);
  access.ca_pem = std::move(*ca);
  if (auto ns = read_whole_file(root + "/namespace", "namespace")) {
    access.namespace_ = *ns;
    while (!access.namespace_.empty() && (access.namespace_.back() == '\n' || access.namespace_.back() == ' '))
      access.namespace_.pop_back();
  }
  return access;
}

}  // namespace kvlb::kube
