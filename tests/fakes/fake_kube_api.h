#pragma once
// A stateful in-memory Kubernetes API server behind kube::KubeApi: objects per
// collection, one resourceVersion counter for all (like etcd's revision), an
// event history that watches replay from any retained resourceVersion,
// paginated LISTs with continue tokens over a snapshot, compaction (old
// versions and tokens then get 410 Expired, as from the real server), and
// injectable failures. Thread-safe: tests drive it while an Informer runs.
//
// Collections are named by their all-namespaces list path, e.g.
// "/api/v1/services" or "/apis/discovery.k8s.io/v1/endpointslices"; objects
// are keyed by namespace/name. Paths understood (core and group APIs):
//   GET   <collection>[?limit=&continue=]            list (all namespaces)
//   GET   /api/v1/namespaces/NS/services             list one namespace
//   GET   /api/v1/namespaces/NS/services/NAME        one object
//   WATCH <list path>?resourceVersion=RV[&allowWatchBookmarks=true]
//   PATCH .../NAME[/status]   merge patch (other content types: recorded only)
//   POST  /api/v1/namespaces/NS/events               create (name or generateName)
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/kube_api.h"

namespace kvlb::fakes {

class FakeKubeApi final : public kube::KubeApi {
 public:
  struct Write {
    std::string path;
    nlohmann::json body;
    std::string content_type;
  };

  // --- the stored state (every write bumps the resourceVersion and is an event) ---
  // Stores a new object (metadata.namespace/name required, except the
  // namespace for cluster-scoped collections); sets resourceVersion and a uid.
  // Returns the stored object, or null if it already exists.
  nlohmann::json create(const std::string& collection, nlohmann::json object);
  // Replaces an existing object (MODIFIED); null if there is none.
  nlohmann::json update(const std::string& collection, nlohmann::json object);
  // Deletes (DELETED, carrying the last state at a new resourceVersion); false if there is none.
  bool remove(const std::string& collection, const std::string& ns, const std::string& name);
  std::optional<nlohmann::json> object(const std::string& collection, const std::string& ns,
                                       const std::string& name) const;
  std::vector<nlohmann::json> objects(const std::string& collection) const;  // sorted by namespace/name
  uint64_t resource_version() const;

  // Makes every version up to now too old: watches from it and continue
  // tokens issued before get 410 Expired.
  void compact();

  // --- what open watches see ---
  // A BOOKMARK at the current resourceVersion to every open watch of
  // collection that asked for bookmarks.
  void bookmark(const std::string& collection);
  // The server ends every open watch (after the events already due): watch() returns ok.
  void end_watches();
  // Every open watch ends with an error (after the events already due), e.g.
  // {410, "Expired"} as an ERROR event, or {0, "Transport"} for a dropped connection.
  void fail_watches(const kube::ApiError& error);

  // --- failures of the next calls (each queued error is used once, in order) ---
  void fail_next_get(kube::ApiError error);
  void fail_next_watch(kube::ApiError error);  // watch() returns it at once
  void fail_next_patch(kube::ApiError error);
  void fail_next_post(kube::ApiError error);

  // Called at the start of every get/watch/patch/post (method "GET", "WATCH",
  // "PATCH", "POST"), outside the fake's lock: it may change the fake, e.g.
  // compact between the pages of a LIST.
  void set_call_hook(std::function<void(const std::string& method, const std::string& path_and_query)> hook);

  // --- what was asked ---
  std::vector<std::string> get_requests() const;    // path and query, in order
  std::vector<std::string> watch_requests() const;  // as passed, in order
  std::vector<Write> patches() const;
  std::vector<Write> posts() const;
  size_t open_watches() const;
  bool watches_cancelled() const;

  // Waits (up to timeout) until pred() holds, re-checking after every change
  // of the fake's state and every call made to it; pred runs under no lock.
  bool wait_until(const std::function<bool()>& pred,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const;

  // --- KubeApi ---
  kube::ApiResult<nlohmann::json> get(const std::string& path_and_query) override;
  kube::ApiResult<std::monostate> watch(const std::string& path_and_query,
                                        const std::function<bool(const kube::WatchEvent&)>& on_event) override;
  kube::ApiResult<nlohmann::json> patch(const std::string& path, const nlohmann::json& body,
                                        const std::string& content_type = "application/merge-patch+json") override;
  kube::ApiResult<nlohmann::json> post(const std::string& path, const nlohmann::json& body) override;
  void cancel_watches() override;

 private:
  struct Event {
    uint64_t rv;
    std::string collection;
    std::string ns;
    kube::WatchEvent::Type type;
    nlohmann::json object;
  };
  struct OpenWatch {
    std::string collection;
    std::string ns;  // "" = all namespaces
    bool bookmarks = false;
    size_t next = 0;  // index into history_ of the next event to look at
    std::deque<uint64_t> pending_bookmarks;
    std::optional<size_t> end_at;  // end once next reaches this history size...
    std::optional<kube::ApiError> end_error;  // ...with this error (none: ok)
  };
  struct Snapshot {
    uint64_t rv;
    std::vector<nlohmann::json> items;
  };
  struct Target {  // a parsed request path
    std::string collection;
    std::string ns;
    std::string name;
    std::string subresource;
    bool valid = false;
  };

  static Target parse_target(const std::string& path);
  static std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }
  static std::string kind_of(const std::string& collection);
  nlohmann::json record_locked(const std::string& collection, kube::WatchEvent::Type type, nlohmann::json object);
  kube::ApiResult<nlohmann::json> list_locked(const Target& target, const kube::PathAndQuery& request,
                                              const std::string& what);
  std::optional<kube::ApiError> take(std::deque<kube::ApiError>& queue);
  void changed();  // call with mu_ held
  void call_hook(const char* method, const std::string& path);

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  uint64_t changes_ = 0;  // bumped on every change and call, for wait_until

  uint64_t rv_ = 100;  // the current resourceVersion; history starts after it
  uint64_t compacted_rv_ = 0;
  uint64_t next_uid_ = 1;
  uint64_t next_snapshot_ = 1;
  std::map<std::string, std::map<std::string, nlohmann::json>> collections_;
  std::vector<Event> history_;
  std::map<uint64_t, Snapshot> snapshots_;  // continue token id -> list snapshot
  std::list<std::shared_ptr<OpenWatch>> watches_;
  bool cancelled_ = false;
  std::function<void(const std::string&, const std::string&)> hook_;

  std::deque<kube::ApiError> get_failures_, watch_failures_, patch_failures_, post_failures_;
  std::vector<std::string> get_requests_, watch_requests_;
  std::vector<Write> patches_, posts_;
};

}  // namespace kvlb::fakes
