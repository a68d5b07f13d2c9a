#pragma once
// kvlb's interface to the Kubernetes API server: JSON GET / PATCH / POST and
// streaming WATCH. make_kube_api() builds the real client (HTTP/1.1 over TLS;
// the HTTP library stays inside src/kube/*.cpp); tests use fakes::FakeKubeApi.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/access.h"
#include "util/result.h"

namespace kvlb::kube {

struct ApiError {
  int status = 0;        // HTTP status; 0 = transport, timeout, cancellation or unparsable response
  std::string reason;    // Status.reason ("Expired", "Gone", "NotFound", ...); for status 0 one of
                         // "Timeout" (no response), "Idle" (an accepted watch went quiet), "Cancelled",
                         // "Transport", "BadResponse", "BadRequest", "ClientConfig"
  std::string message;   // Status.message, or what went wrong
  std::string request;   // "GET /api/v1/services?limit=500", "" if unknown

  // "GET /api/v1/services: 410 Expired: too old resource version: 1 (229)"
  std::string describe() const;
  // The resourceVersion (or continue token) is too old: 410, or reason Expired / Gone.
  bool gone() const;
};

template <typename T>
using ApiResult = Result<T, ApiError>;

// An ERROR event of a watch stream or the body of a failed request (a
// meta/v1 Status) as an ApiError; http_status is used when the body has no code.
ApiError status_error(const nlohmann::json& status, int http_status, std::string request);

struct WatchEvent {
  enum class Type { Added, Modified, Deleted, Bookmark };
  Type type = Type::Added;
  nlohmann::json object;  // for Bookmark: only kind, apiVersion and metadata.resourceVersion
};

const char* to_string(WatchEvent::Type type);

struct ClientOptions {
  // Both are idle timeouts: the longest wait for the next bytes from the
  // server (connect, headers, body), not a limit on the whole request.
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds watch_idle_timeout{90000};
  std::string user_agent = "kvlbd";
};

class KubeApi {
 public:
  virtual ~KubeApi() = default;

  // path_and_query: "/api/v1/services?limit=500" (query values already escaped,
  // see query_escape). The decoded JSON body.
  virtual ApiResult<nlohmann::json> get(const std::string& path_and_query) = 0;

  // Streams a WATCH ("watch=true" is added to the query unless it is there).
  // Blocks, calling on_event in the calling thread for each event as it
  // arrives, until the server ends the stream (ok), an error (an ERROR event
  // carrying a Status, e.g. 410, becomes an ApiError), the idle timeout
  // (reason "Idle"; "Timeout" if the server never answered), on_event
  // returning false (ok), or cancel_watches() (reason "Cancelled").
  virtual ApiResult<std::monostate> watch(const std::string& path_and_query,
                                          const std::function<bool(const WatchEvent&)>& on_event) = 0;

  virtual ApiResult<nlohmann::json> patch(const std::string& path, const nlohmann::json& body,
                                          const std::string& content_type = "application/merge-patch+json") = 0;
  virtual ApiResult<nlohmann::json> post(const std::string& path, const nlohmann::json& body) = 0;

  // From another thread, for shutdown: every watch in progress returns
  // promptly, and every later watch() returns at once, with reason
  // "Cancelled". get/patch/post are not affected.
  virtual void cancel_watches() = 0;
};

std::unique_ptr<KubeApi> make_kube_api(const Access& access, const ClientOptions& options = {});

// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
std::string query_escape(std::string_view value);

// Splits "/p?a=1&b=x%2Fy" into "/p" and decoded {a: 1, b: x/y} (later keys win).
struct PathAndQuery {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;  // in order, decoded
  const std::string* find(std::string_view key) const;
};
PathAndQuery split_path_and_query(std::string_view path_and_query);

}  // namespace kvlb::kube
