// KubeApi over cpprestsdk (boost asio + OpenSSL). Nothing of cpprestsdk leaves
// this file.
//
// How cpprestsdk behaves here (2.10, asio backend), and what this file does about it:
// - request() completes when the response headers are in; the body keeps
//   arriving in the background into a producer_consumer_buffer. A watch reads
//   that buffer in the calling thread as it fills. But getn(buf, N) on that
//   buffer completes only when N bytes are there (or the stream ends), so a
//   large read would hold events back until 64 KiB had piled up: we wait for
//   one byte, then take whatever else is already there (in_avail()).
// - The client's timeout is an idle timeout: it is re-armed on connect, on the
//   headers and on every chunk read. So the watch client's timeout is the
//   watch idle timeout, and the request client's bounds each wait, not the
//   whole request. On expiry the connection is closed and the body read fails
//   with errc::timed_out.
// - A body that ends in an error (timeout, cancellation, reset) makes the
//   pending read throw the stored exception rather than just return 0.
// - Idle connections are pooled per http_client. When the server has closed
//   them (idle timeout, restart), cpprestsdk resends a request by itself only
//   if reading the status line fails; a failed write (a request with a body,
//   or after a reset) is reported as "Failed to write request ...". Such a
//   request never reached the server: it is sent again once on a new client.
// - Cancelling a request's token closes its connection; a watch we leave early
//   is cancelled the same way, since a half-read chunked body cannot be reused.
// - The server certificate is checked by cpprestsdk with OpenSSL's chain
//   verification plus boost's rfc2818_verification, which matches IP SANs for
//   IP-address hosts. It loads the system store before our context callback
//   runs, so with a CA given we replace the whole X509 store. Its error on a
//   failed handshake is only "Error in SSL handshake": we record the OpenSSL
//   verification error ourselves and add it.
// - SNI is sent with whatever the host is, IP addresses included (not allowed
//   by RFC 6066); we turn it off for IP-address servers.
// - A bracketed IPv6 literal host ("https://[fd00::1]:6443") is passed to the
//   resolver with its brackets and fails ("Error resolving address"); we
//   refuse it up front with a clear error.
#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <list>
#include <mutex>
#include <optional>
#include <sstream>
#include <variant>

#include "kube/kube_api.h"
#include "kube/tls_pem.h"

namespace kvlb::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

std::string excerpt(std::string_view text, size_t max = 300) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max)) + "...";
}

std::string trim(std::string s) {
  auto ws = [](unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

// Certificates and key parsed once, loaded into every new connection's context,
// and the last chain verification failure (cpprestsdk does not report it).
struct TlsState {
  std::vector<X509Ptr> cas;
  std::vector<X509Ptr> client_chain;  // leaf first
  PKeyPtr client_key;
  std::string host;

  std::mutex mu;
  uint64_t verify_failures = 0;
  std::string last_verify_failure;

  uint64_t failures() {
    std::lock_guard lock(mu);
    return verify_failures;
  }
  std::string failure_since(uint64_t seen) {
    std::lock_guard lock(mu);
    return verify_failures == seen ? std::string() : last_verify_failure;
  }
};

// Keeps the TlsState alive as long as any SSL_CTX that points at it.
int tls_state_index() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::shared_ptr<TlsState>*>(ptr);
      });
  return index;
}

// The whole-chain check (OpenSSL's own, which also runs cpprestsdk's per-certificate
// callback with the host name check), remembering why it failed.
int verify_chain(X509_STORE_CTX* store_ctx, void* arg) {
  auto* tls = static_cast<TlsState*>(arg);
  int ok = X509_verify_cert(store_ctx);
  if (ok <= 0) {
    int err = X509_STORE_CTX_get_error(store_ctx);
    // The chain was fine but the host check (a callback) refused the leaf:
    // OpenSSL then has no error of its own, or "unspecified".
    std::string why = err == X509_V_OK || err == X509_V_ERR_UNSPECIFIED
                          ? "the server certificate is not valid for " + tls->host
                          : std::string(X509_verify_cert_error_string(err));
    std::lock_guard lock(tls->mu);
    ++tls->verify_failures;
    tls->last_verify_failure = "server certificate verification failed: " + why;
  }
  return ok;
}

bool is_ip_literal(const std::string& host) {
  if (host.empty()) return false;
  return std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

class CpprestKubeApi final : public KubeApi {
 public:
  CpprestKubeApi(const Access& access, const ClientOptions& options)
      : options_(options), token_(access.token), token_file_(access.token_file) {
    try {
      setup(access);
    } catch (const std::exception& e) {
      config_error_ = std::string("cannot set up a client for ") + access.server + ": " + e.what();
    }
  }

  ~CpprestKubeApi() override { cancel_watches(); }

  ApiResult<nlohmann::json> get(const std::string& path_and_query) override {
    return request_json(http::methods::GET, path_and_query, nullptr, "");
  }

  ApiResult<nlohmann::json> patch(const std::string& path, const nlohmann::json& body,
                                  const std::string& content_type) override {
    return request_json(http::methods::PATCH, path, &body, content_type);
  }

  ApiResult<nlohmann::json> post(const std::string& path, const nlohmann::json& body) override {
    return request_json(http::methods::POST, path, &body, "application/json");
  }

  ApiResult<std::monostate> watch(const std::string& path_and_query,
                                  const std::function<bool(const WatchEvent&)>& on_event) override {
    std::string path = path_and_query;
    {
      auto parts = split_path_and_query(path);
      const std::string* w = parts.find("watch");
      if (!w || (*w != "true" && *w != "1")) path += (path.find('?') == std::string::npos ? "?" : "&") + std::string("watch=true");
    }
    const std::string what = "WATCH " + path;
    if (!config_error_.empty()) return ApiError{0, "ClientConfig", config_error_, what};

    auto cts = std::make_shared<pplx::cancellation_token_source>();
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return cancelled(what);
      active_.push_back(cts);
    }
    struct Release {
      CpprestKubeApi* self;
      std::shared_ptr<pplx::cancellation_token_source> cts;
      bool ended_cleanly = false;
      ~Release() {
        // Leaving a stream early: cancelling closes the connection (a
        // half-read chunked body cannot be reused). A clean end keeps it.
        if (!ended_cleanly) cts->cancel();
        std::lock_guard lock(self->mu_);
        self->active_.remove(cts);
      }
    } release{this, cts};

    const uint64_t verify_seen = tls_ ? tls_->failures() : 0;
    http::http_response resp;
    for (int attempt = 1;; ++attempt) {
      http::http_request req(http::methods::GET);
      if (auto err = prepare(req, path, what)) return *err;
      auto client = current(watch_client_);
      try {
        resp = client->request(req, cts->get_token()).get();
        break;
      } catch (const std::exception& e) {
        if (cts->get_token().is_canceled()) return cancelled(what);
        if (attempt == 1 && not_sent(e)) {
          renew(watch_client_, client, watch_config_);
          continue;
        }
        return transport_error(e, what, verify_seen, true);
      }
    }
    try {
      if (resp.status_code() != http::status_codes::OK) {
        std::string text = resp.extract_utf8string(true).get();
        return error_from_body(resp, text, what);
      }
      auto buf = resp.body().streambuf();
      std::vector<uint8_t> chunk(64 * 1024);
      std::string pending;
      while (true) {
        // One byte blocks until data (or the end) is there; the rest of what
        // has arrived is then taken without waiting.
        size_t n = buf.getn(chunk.data(), 1).get();
        if (n == 0) break;
        size_t avail = std::min(buf.in_avail(), chunk.size() - 1);
        if (avail > 0) n += buf.getn(chunk.data() + 1, avail).get();
        pending.append(reinterpret_cast<const char*>(chunk.data()), n);
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
          auto outcome = dispatch(std::string_view(pending).substr(start, nl - start), on_event, what);
          if (outcome) return std::move(*outcome);
        }
        pending.erase(0, start);
      }
      if (cts->get_token().is_canceled()) return cancelled(what);
      if (!trim(pending).empty()) {
        if (auto outcome = dispatch(pending, on_event, what)) return std::move(*outcome);
      }
      release.ended_cleanly = true;
      return std::monostate{};
    } catch (const std::exception& e) {
      if (cts->get_token().is_canceled()) return cancelled(what);
      ApiError err = transport_error(e, what, verify_seen, true);
      if (err.reason == "Transport") err.message = "watch stream broken: " + err.message;
      if (err.reason == "Timeout") {
        err.reason = "Idle";  // the server had accepted the watch
        err.message = "no data on the watch stream for " + std::to_string(options_.watch_idle_timeout.count()) + " ms";
      }
      return err;
    }
  }

  void cancel_watches() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    for (auto& cts : active_) cts->cancel();
  }

 private:
  void setup(const Access& access) {
    web::uri base(utility::conversions::to_string_t(access.server));
    if (base.scheme() != "https" && base.scheme() != "http")
      throw std::invalid_argument("server must be an http(s):// URL");
    if (!base.host().empty() && base.host().front() == '[')
      throw std::invalid_argument(
          "IPv6 address literals are not supported (cpprestsdk's asio client cannot resolve \"" + base.host() +
          "\"); use a host name that resolves to it");
    if (base.scheme() == "https") {
      tls_ = std::make_shared<TlsState>();
      tls_->host = base.host();
      if (!access.ca_pem.empty()) {
        auto cas = parse_certificates_pem(access.ca_pem);
        if (!cas) throw std::invalid_argument("CA: " + cas.error());
        tls_->cas = std::move(*cas);
      }
      if (!access.client_cert_pem.empty() || !access.client_key_pem.empty()) {
        auto chain = parse_certificates_pem(access.client_cert_pem);
        if (!chain) throw std::invalid_argument("client certificate: " + chain.error());
        auto key = parse_private_key_pem(access.client_key_pem);
        if (!key) throw std::invalid_argument("client key: " + key.error());
        if (X509_check_private_key(chain->front().get(), key->get()) != 1) {
          openssl_error_text();  // clears the queue
          throw std::invalid_argument("client key does not match client certificate");
        }
        tls_->client_chain = std::move(*chain);
        tls_->client_key = std::move(*key);
      }
    }
    auto config_for = [&](std::chrono::milliseconds timeout) {
      client::http_client_config config;
      config.set_timeout(timeout);
      if (tls_) {
        config.set_validate_certificates(!access.insecure_skip_tls_verify);
        if (is_ip_literal(tls_->host)) config.set_tlsext_sni_enabled(false);
        std::shared_ptr<TlsState> tls = tls_;
        config.set_ssl_context_callback([tls](boost::asio::ssl::context& context) { configure_tls(*tls, tls, context); });
      }
      return config;
    };
    base_ = base;
    request_config_ = config_for(options_.request_timeout);
    watch_config_ = config_for(options_.watch_idle_timeout);
    client_ = std::make_shared<client::http_client>(base_, request_config_);
    watch_client_ = std::make_shared<client::http_client>(base_, watch_config_);
  }

  // The pool of idle connections goes with the http_client, so a client is
  // replaced (not shared state changed) when its pooled connections went stale.
  std::shared_ptr<client::http_client> current(const std::shared_ptr<client::http_client>& slot) {
    std::lock_guard lock(mu_);
    return slot;
  }

  // After the server closed the pooled connections (idle timeout, restart):
  // cpprestsdk resends a request by itself only when reading the status line
  // fails on a reused connection, not when writing to it fails, which is what
  // a request with a body (and any request, once the peer has reset) runs
  // into. Such a request never reached the server, so it is sent once more on
  // a new client, with an empty pool: every pooled connection is likely dead.
  static bool not_sent(const std::exception& e) {
    return std::string_view(e.what()).starts_with("Failed to write request");
  }
  void renew(std::shared_ptr<client::http_client>& slot, const std::shared_ptr<client::http_client>& failed,
             const client::http_client_config& config) {
    auto fresh = std::make_shared<client::http_client>(base_, config);
    std::lock_guard lock(mu_);
    if (slot == failed) slot = std::move(fresh);
  }

  static void configure_tls(TlsState& tls, const std::shared_ptr<TlsState>& owner, boost::asio::ssl::context& context) {
    SSL_CTX* ctx = context.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (!tls.cas.empty()) {
      // Only the given CAs: a fresh store drops the system paths cpprestsdk set.
      X509_STORE* store = X509_STORE_new();
      for (const auto& ca : tls.cas) X509_STORE_add_cert(store, ca.get());
      SSL_CTX_set_cert_store(ctx, store);
    }
    if (tls.client_key) {
      if (SSL_CTX_use_certificate(ctx, tls.client_chain.front().get()) != 1)
        throw std::runtime_error("client certificate: " + openssl_error_text());
      for (size_t i = 1; i < tls.client_chain.size(); ++i) SSL_CTX_add1_chain_cert(ctx, tls.client_chain[i].get());
      if (SSL_CTX_use_PrivateKey(ctx, tls.client_key.get()) != 1)
        throw std::runtime_error("client key: " + openssl_error_text());
    }
    SSL_CTX_set_ex_data(ctx, tls_state_index(), new std::shared_ptr<TlsState>(owner));
    SSL_CTX_set_cert_verify_callback(ctx, verify_chain, &tls);
  }

  static ApiError cancelled(const std::string& what) { return ApiError{0, "Cancelled", "watch cancelled", what}; }

  // Headers common to every request; an error if the token file cannot be read.
  std::optional<ApiError> prepare(http::http_request& req, const std::string& path, const std::string& what) {
    try {
      req.set_request_uri(utility::conversions::to_string_t(path));
    } catch (const std::exception& e) {
      return ApiError{0, "BadRequest", std::string("invalid request path: ") + e.what(), what};
    }
    req.headers().add("Accept", "application/json");
    req.headers().add("User-Agent", options_.user_agent);
    std::string token = token_;
    if (!token_file_.empty()) {
      std::ifstream in(token_file_);
      std::ostringstream text;
      if (in) text << in.rdbuf();
      std::string fresh = in ? trim(text.str()) : std::string();
      std::lock_guard lock(mu_);
      if (!fresh.empty()) last_file_token_ = fresh;
      if (last_file_token_.empty()) return ApiError{0, "ClientConfig", "cannot read token file " + token_file_, what};
      token = last_file_token_;
    }
    if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
    return std::nullopt;
  }

  ApiResult<nlohmann::json> request_json(const http::method& method, const std::string& path,
                                         const nlohmann::json* body, const std::string& content_type) {
    const std::string what = method + " " + path;
    if (!config_error_.empty()) return ApiError{0, "ClientConfig", config_error_, what};
    for (int attempt = 1;; ++attempt) {
      http::http_request req(method);
      if (auto err = prepare(req, path, what)) return *err;
      if (body) req.set_body(body->dump(), content_type);
      const uint64_t verify_seen = tls_ ? tls_->failures() : 0;
      auto client = current(client_);
      try {
        http::http_response resp = client->request(req).get();
        std::string text = resp.extract_utf8string(true).get();
        if (resp.status_code() < 200 || resp.status_code() >= 300) return error_from_body(resp, text, what);
        auto parsed = nlohmann::json::parse(text, nullptr, false);
        if (parsed.is_discarded()) return ApiError{0, "BadResponse", "response is not JSON: " + excerpt(text), what};
        return parsed;
      } catch (const std::exception& e) {
        if (attempt == 1 && not_sent(e)) {
          renew(client_, client, request_config_);
          continue;
        }
        return transport_error(e, what, verify_seen, false);
      }
    }
  }

  static ApiError error_from_body(const http::http_response& resp, const std::string& text, const std::string& what) {
    int status = resp.status_code();
    auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_object() && parsed.value("kind", "") == "Status") return status_error(parsed, status, what);
    return ApiError{status, resp.reason_phrase(), excerpt(trim(text)), what};
  }

  ApiError transport_error(const std::exception& e, const std::string& what, uint64_t verify_seen, bool watch) {
    ApiError err{0, "Transport", e.what(), what};
    if (auto* he = dynamic_cast<const http::http_exception*>(&e)) {
      if (he->error_code() == std::errc::timed_out) {
        auto timeout = watch ? options_.watch_idle_timeout : options_.request_timeout;
        err.reason = "Timeout";
        err.message = "no response from the server for " + std::to_string(timeout.count()) + " ms (" + e.what() + ")";
      } else if (he->error_code() == std::errc::operation_canceled) {
        err.reason = "Cancelled";
      }
    } else if (dynamic_cast<const pplx::task_canceled*>(&e)) {
      err.reason = "Cancelled";
    }
    if (tls_) {
      std::string why = tls_->failure_since(verify_seen);
      if (!why.empty()) err.message += ": " + why;
    }
    return err;
  }

  // One line of a watch stream: nullopt to go on, else the watch's result.
  std::optional<ApiResult<std::monostate>> dispatch(std::string_view line,
                                                    const std::function<bool(const WatchEvent&)>& on_event,
                                                    const std::string& what) {
    if (trim(std::string(line)).empty()) return std::nullopt;
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string())
      return ApiResult<std::monostate>(ApiError{0, "BadResponse", "invalid watch event: " + excerpt(line), what});
    const std::string type = parsed["type"].get<std::string>();
    WatchEvent ev;
    if (type == "ADDED") ev.type = WatchEvent::Type::Added;
    else if (type == "MODIFIED") ev.type = WatchEvent::Type::Modified;
    else if (type == "DELETED") ev.type = WatchEvent::Type::Deleted;
    else if (type == "BOOKMARK") ev.type = WatchEvent::Type::Bookmark;
    else if (type == "ERROR") return ApiResult<std::monostate>(status_error(parsed.value("object", nlohmann::json()), 0, what));
    else return ApiResult<std::monostate>(ApiError{0, "BadResponse", "unknown watch event type " + type, what});
    if (auto it = parsed.find("object"); it != parsed.end()) ev.object = std::move(*it);
    if (!on_event(ev)) return ApiResult<std::monostate>(std::monostate{});
    return std::nullopt;
  }

  ClientOptions options_;
  std::string token_;
  std::string token_file_;
  std::string config_error_;
  std::shared_ptr<TlsState> tls_;
  web::uri base_;
  client::http_client_config request_config_, watch_config_;
  std::shared_ptr<client::http_client> client_;        // guarded by mu_
  std::shared_ptr<client::http_client> watch_client_;  // guarded by mu_

  std::mutex mu_;
  bool cancelled_ = false;
  std::list<std::shared_ptr<pplx::cancellation_token_source>> active_;
  std::string last_file_token_;
};

}  // namespace

std::unique_ptr<KubeApi> make_kube_api(const Access& access, const ClientOptions& options) {
  return std::make_unique<CpprestKubeApi>(access, options);
}

}  // namespace kvlb::kube
