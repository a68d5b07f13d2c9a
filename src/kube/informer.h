#pragma once
// A reflector: keeps a consumer up to date with one resource collection by
// LIST (paginated) + WATCH from the list's resourceVersion, rewatching from the
// last seen resourceVersion when a watch ends and relisting when the server
// says that version is gone (410).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/kube_api.h"
#include "util/clock.h"

namespace kvlb::kube {

class InformerHandler {
 public:
  virtual ~InformerHandler() = default;
  // After every full LIST (the first, and relists after 410 / errors): the
  // complete set. Items get kind and apiVersion from the list (the API leaves
  // them out of list items), so they look like watch objects.
  virtual void replace(const std::vector<nlohmann::json>& objects) = 0;
  virtual void upsert(const nlohmann::json& object) = 0;  // ADDED / MODIFIED
  virtual void remove(const nlohmann::json& object) = 0;  // DELETED
};

struct InformerOptions {
  std::string list_path;  // "/api/v1/services" (may carry a query, e.g. a labelSelector)
  std::string name;       // for logs
  uint32_t page_size = 500;  // LIST limit; 0 = unpaginated
  std::chrono::milliseconds backoff_initial{250}, backoff_max{30000};
  double jitter = 0.2;  // each backoff is base x (1 +- jitter); base doubles up to backoff_max
  // Server-side watch timeout; each watch asks for a value in N x (1 +- jitter).
  uint32_t watch_timeout_seconds = 300;
};

class Informer {
 public:
  struct Stats {
    uint64_t lists = 0;         // complete LISTs (each followed by replace)
    uint64_t relists_gone = 0;  // LISTs (re)started because of a 410 on a watch or a continue token
    uint64_t watches = 0;       // watch requests made
    uint64_t events = 0;        // ADDED / MODIFIED / DELETED handed to the handler
    uint64_t bookmarks = 0;
    uint64_t errors = 0;        // failed LISTs and watches (not counting 410s)
    std::string last_error;
    std::string resource_version;  // the last one seen
  };

  // sleep waits for the backoff delay (injectable for tests) and must return
  // early once the stop token given to run() is stopped; see stoppable_sleep.
  Informer(KubeApi& api, InformerOptions options, InformerHandler& handler, const Clock& clock,
           std::function<void(std::chrono::milliseconds)> sleep);

  // Blocks until stop is requested. LIST -> replace -> WATCH from the list's
  // resourceVersion with bookmarks; every event (bookmarks too) advances the
  // resourceVersion; a watch the server ends is resumed from it; 410 -> fresh
  // LIST -> replace; other errors -> backoff, then rewatch (or relist when
  // there is no resourceVersion yet; after 504 "Too large resource version"
  // too). A watch that went quiet for the client's idle timeout (reason
  // "Idle") is resumed at once, like one the server ended. The handler is
  // called from this thread.
  // A stop request cancels the watches of the whole KubeApi (cancel_watches),
  // so informers sharing one KubeApi are meant to be stopped together.
  void run(std::stop_token stop);

  bool has_synced() const { return synced_.load(); }  // the first LIST completed (stays true)
  Stats stats() const;

  // A watch that ends without events sooner than this counts as a failure
  // (so a server that closes watches at once is not hammered).
  static constexpr std::chrono::milliseconds kMinHealthyWatch{1000};

 private:
  struct Listed {
    std::vector<nlohmann::json> items;
    std::string resource_version;
  };
  enum class ListOutcome { Done, Failed, Stopped };
  ListOutcome list(std::stop_token stop, Listed& out, ApiError& error);
  std::chrono::milliseconds next_backoff();
  uint32_t watch_timeout();
  std::string with_query(const std::string& query) const;
  void record_error(const ApiError& error);

  KubeApi& api_;
  InformerOptions options_;
  InformerHandler& handler_;
  const Clock& clock_;
  std::function<void(std::chrono::milliseconds)> sleep_;

  std::atomic<bool> synced_{false};
  mutable std::mutex stats_mu_;
  Stats stats_;

  std::mt19937_64 rng_;
  uint32_t failures_ = 0;  // consecutive; the backoff doubles with each
};

// A sleep for Informer that returns early when stop is requested.
std::function<void(std::chrono::milliseconds)> stoppable_sleep(std::stop_token stop);

}  // namespace kvlb::kube
