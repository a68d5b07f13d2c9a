#include "fakes/fake_kube_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace kvlb::fakes {

using kube::ApiError;
using kube::ApiResult;
using kube::WatchEvent;
using json = nlohmann::json;

namespace {

std::vector<std::string> split_segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string api_version_of(const std::string& collection) {
  auto seg = split_segments(collection);
  if (seg.size() >= 2 && seg[0] == "api") return seg[1];
  if (seg.size() >= 3 && seg[0] == "apis") return seg[1] + "/" + seg[2];
  return "v1";
}

std::string meta_string(const json& object, const char* field) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto v = meta->find(field);
  return v != meta->end() && v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

// --- paths ---

FakeKubeApi::Target FakeKubeApi::parse_target(const std::string& path) {
  Target t;
  auto seg = split_segments(path);
  std::string prefix;
  size_t i = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    prefix = "/api/" + seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    prefix = "/apis/" + seg[1] + "/" + seg[2];
    i = 3;
  } else {
    return t;
  }
  std::vector<std::string> rest(seg.begin() + static_cast<std::ptrdiff_t>(i), seg.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    t.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return t;
  t.collection = prefix + "/" + rest[0];
  if (rest.size() >= 2) t.name = rest[1];
  if (rest.size() == 3) t.subresource = rest[2];
  t.valid = true;
  return t;
}

std::string FakeKubeApi::kind_of(const std::string& collection) {
  static const std::map<std::string, std::string> known = {
      {"services", "Service"},     {"endpointslices", "EndpointSlice"}, {"nodes", "Node"},
      {"events", "Event"},         {"configmaps", "ConfigMap"},         {"pods", "Pod"},
      {"namespaces", "Namespace"}, {"endpoints", "Endpoints"},          {"leases", "Lease"}};
  auto seg = split_segments(collection);
  if (seg.empty()) return "Unknown";
  auto it = known.find(seg.back());
  if (it != known.end()) return it->second;
  std::string k = seg.back();
  if (!k.empty() && k.back() == 's') k.pop_back();
  if (!k.empty()) k[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(k[0])));
  return k;
}

// --- state ---

void FakeKubeApi::changed() {
  ++changes_;
  cv_.notify_all();
}

json FakeKubeApi::record_locked(const std::string& collection, WatchEvent::Type type, json object) {
  object["metadata"]["resourceVersion"] = std::to_string(++rv_);
  const std::string ns = meta_string(object, "namespace");
  history_.push_back(Event{rv_, collection, ns, type, object});
  changed();
  return object;
}

json FakeKubeApi::create(const std::string& collection, json object) {
  std::lock_guard lock(mu_);
  const std::string name = meta_string(object, "name");
  const std::string ns = meta_string(object, "namespace");
  if (name.empty()) return nullptr;
  auto& objects = collections_[collection];
  if (objects.count(key(ns, name))) return nullptr;
  if (!object.contains("kind")) object["kind"] = kind_of(collection);
  if (!object.contains("apiVersion")) object["apiVersion"] = api_version_of(collection);
  if (meta_string(object, "uid").empty()) object["metadata"]["uid"] = "fake-uid-" + std::to_string(next_uid_++);
  object = record_locked(collection, WatchEvent::Type::Added, std::move(object));
  objects[key(ns, name)] = object;
  return object;
}

json FakeKubeApi::update(const std::string& collection, json object) {
  std::lock_guard lock(mu_);
  const std::string name = meta_string(object, "name");
  const std::string ns = meta_string(object, "namespace");
  auto& objects = collections_[collection];
  auto it = objects.find(key(ns, name));
  if (it == objects.end()) return nullptr;
  if (!object.contains("kind")) object["kind"] = it->second["kind"];
  if (!object.contains("apiVersion")) object["apiVersion"] = it->second["apiVersion"];
  object["metadata"]["uid"] = it->second["metadata"]["uid"];
  it->second = record_locked(collection, WatchEvent::Type::Modified, std::move(object));
  return it->second;
}

bool FakeKubeApi::remove(const std::string& collection, const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  auto& objects = collections_[collection];
  auto it = objects.find(key(ns, name));
  if (it == objects.end()) return false;
  json last = std::move(it->second);
  objects.erase(it);
  record_locked(collection, WatchEvent::Type::Deleted, std::move(last));
  return true;
}

std::optional<json> FakeKubeApi::object(const std::string& collection, const std::string& ns,
                                        const std::string& name) const {
  std::lock_guard lock(mu_);
  auto c = collections_.find(collection);
  if (c == collections_.end()) return std::nullopt;
  auto it = c->second.find(key(ns, name));
  if (it == c->second.end()) return std::nullopt;
  return it->second;
}

std::vector<json> FakeKubeApi::objects(const std::string& collection) const {
  std::lock_guard lock(mu_);
  std::vector<json> out;
  auto c = collections_.find(collection);
  if (c != collections_.end())
    for (const auto& [k, v] : c->second) out.push_back(v);
  return out;
}

uint64_t FakeKubeApi::resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

void FakeKubeApi::compact() {
  std::lock_guard lock(mu_);
  compacted_rv_ = rv_;
  changed();
}

// --- open watches ---

void FakeKubeApi::bookmark(const std::string& collection) {
  std::lock_guard lock(mu_);
  for (auto& w : watches_)
    if (w->collection == collection && w->bookmarks) w->pending_bookmarks.push_back(history_.size());
  changed();
}

void FakeKubeApi::end_watches() {
  std::lock_guard lock(mu_);
  for (auto& w : watches_) {
    w->end_at = history_.size();
    w->end_error.reset();
  }
  changed();
}

void FakeKubeApi::fail_watches(const ApiError& error) {
  std::lock_guard lock(mu_);
  for (auto& w : watches_) {
    w->end_at = history_.size();
    w->end_error = error;
  }
  changed();
}

// --- failure injection and records ---

void FakeKubeApi::fail_next_get(ApiError error) {
  std::lock_guard lock(mu_);
  get_failures_.push_back(std::move(error));
}
void FakeKubeApi::fail_next_watch(ApiError error) {
  std::lock_guard lock(mu_);
  watch_failures_.push_back(std::move(error));
}
void FakeKubeApi::fail_next_patch(ApiError error) {
  std::lock_guard lock(mu_);
  patch_failures_.push_back(std::move(error));
}
void FakeKubeApi::fail_next_post(ApiError error) {
  std::lock_guard lock(mu_);
  post_failures_.push_back(std::move(error));
}

std::optional<ApiError> FakeKubeApi::take(std::deque<ApiError>& queue) {
  if (queue.empty()) return std::nullopt;
  ApiError e = std::move(queue.front());
  queue.pop_front();
  return e;
}

std::vector<std::string> FakeKubeApi::get_requests() const {
  std::lock_guard lock(mu_);
  return get_requests_;
}
std::vector<std::string> FakeKubeApi::watch_requests() const {
  std::lock_guard lock(mu_);
  return watch_requests_;
}
std::vector<FakeKubeApi::Write> FakeKubeApi::patches() const {
  std::lock_guard lock(mu_);
  return patches_;
}
std::vector<FakeKubeApi::Write> FakeKubeApi::posts() const {
  std::lock_guard lock(mu_);
  return posts_;
}
size_t FakeKubeApi::open_watches() const {
  std::lock_guard lock(mu_);
  return watches_.size();
}
bool FakeKubeApi::watches_cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool FakeKubeApi::wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = changes_;
    }
    if (pred()) return true;
    std::unique_lock lock(mu_);
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Also poll: pred may depend on what a handler did after the last change.
    cv_.wait_for(lock, std::chrono::milliseconds(2), [&] { return changes_ != seen; });
  }
}

void FakeKubeApi::set_call_hook(std::function<void(const std::string&, const std::string&)> hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

void FakeKubeApi::call_hook(const char* method, const std::string& path) {
  std::function<void(const std::string&, const std::string&)> hook;
  {
    std::lock_guard lock(mu_);
    hook = hook_;
  }
  if (hook) hook(method, path);
}

// --- KubeApi ---

ApiResult<json> FakeKubeApi::list_locked(const Target& target, const kube::PathAndQuery& request,
                                         const std::string& what) {
  uint64_t limit = 0;
  if (const std::string* l = request.find("limit"); l && !l->empty()) {
    auto v = parse_u64(*l);
    if (!v) return ApiError{400, "BadRequest", "invalid limit " + *l, what};
    limit = *v;
  }
  uint64_t snapshot_id = 0;
  size_t offset = 0;
  const std::string* cont = request.find("continue");
  if (cont && !cont->empty()) {
    // tokens look like "s<id>+o<offset>/=": characters that must be escaped in a query
    auto plus = cont->find("+o");
    auto slash = cont->find("/=");
    std::optional<uint64_t> id, off;
    if (cont->size() > 1 && (*cont)[0] == 's' && plus != std::string::npos && slash != std::string::npos) {
      id = parse_u64(cont->substr(1, plus - 1));
      off = parse_u64(cont->substr(plus + 2, slash - plus - 2));
    }
    if (!id || !off || !snapshots_.count(*id))
      return ApiError{400, "BadRequest", "invalid continue token \"" + *cont + "\"", what};
    if (snapshots_[*id].rv < compacted_rv_) {
      snapshots_.erase(*id);
      return ApiError{410, "Expired",
                      "The provided continue parameter is too old to display a consistent list result.", what};
    }
    snapshot_id = *id;
    offset = static_cast<size_t>(*off);
  } else {
    Snapshot snap{rv_, {}};
    if (auto c = collections_.find(target.collection); c != collections_.end())
      for (const auto& [k, v] : c->second)
        if (target.ns.empty() || meta_string(v, "namespace") == target.ns) snap.items.push_back(v);
    snapshot_id = next_snapshot_++;
    snapshots_[snapshot_id] = std::move(snap);
  }
  const Snapshot& snap = snapshots_[snapshot_id];
  json items = json::array();
  size_t end = limit == 0 ? snap.items.size() : std::min(snap.items.size(), offset + static_cast<size_t>(limit));
  for (size_t i = offset; i < end; ++i) {
    json item = snap.items[i];
    item.erase("kind");  // list items come without them, as from the real API
    item.erase("apiVersion");
    items.push_back(std::move(item));
  }
  json out = {{"kind", kind_of(target.collection) + "List"},
              {"apiVersion", api_version_of(target.collection)},
              {"metadata", {{"resourceVersion", std::to_string(snap.rv)}}},
              {"items", std::move(items)}};
  if (end < snap.items.size()) {
    out["metadata"]["continue"] = "s" + std::to_string(snapshot_id) + "+o" + std::to_string(end) + "/=";
    out["metadata"]["remainingItemCount"] = snap.items.size() - end;
  } else {
    snapshots_.erase(snapshot_id);
  }
  return out;
}

ApiResult<json> FakeKubeApi::get(const std::string& path_and_query) {
  call_hook("GET", path_and_query);
  std::lock_guard lock(mu_);
  get_requests_.push_back(path_and_query);
  changed();
  const std::string what = "GET " + path_and_query;
  if (auto e = take(get_failures_)) {
    if (e->request.empty()) e->request = what;
    return *e;
  }
  auto request = kube::split_path_and_query(path_and_query);
  Target t = parse_target(request.path);
  if (!t.valid || !t.subresource.empty()) return ApiError{404, "NotFound", "the server could not find the requested resource", what};
  if (t.name.empty()) return list_locked(t, request, what);
  auto c = collections_.find(t.collection);
  if (c != collections_.end())
    if (auto it = c->second.find(key(t.ns, t.name)); it != c->second.end()) return it->second;
  return ApiError{404, "NotFound", kind_of(t.collection) + " \"" + t.name + "\" not found", what};
}

ApiResult<std::monostate> FakeKubeApi::watch(const std::string& path_and_query,
                                             const std::function<bool(const WatchEvent&)>& on_event) {
  call_hook("WATCH", path_and_query);
  std::unique_lock lock(mu_);
  watch_requests_.push_back(path_and_query);
  changed();
  const std::string what = "WATCH " + path_and_query;
  if (cancelled_) return ApiError{0, "Cancelled", "watch cancelled", what};
  if (auto e = take(watch_failures_)) {
    if (e->request.empty()) e->request = what;
    return *e;
  }
  auto request = kube::split_path_and_query(path_and_query);
  Target t = parse_target(request.path);
  if (!t.valid || !t.name.empty()) return ApiError{404, "NotFound", "the server could not find the requested resource", what};

  auto w = std::make_shared<OpenWatch>();
  w->collection = t.collection;
  w->ns = t.ns;
  const std::string* bookmarks = request.find("allowWatchBookmarks");
  w->bookmarks = bookmarks && *bookmarks == "true";
  std::deque<json> initial;  // resourceVersion "" or "0": the current state first, as ADDED
  const std::string* rvp = request.find("resourceVersion");
  if (!rvp || rvp->empty() || *rvp == "0") {
    if (auto c = collections_.find(t.collection); c != collections_.end())
      for (const auto& [k, v] : c->second)
        if (t.ns.empty() || meta_string(v, "namespace") == t.ns) initial.push_back(v);
    w->next = history_.size();
  } else {
    auto from = parse_u64(*rvp);
    if (!from) return ApiError{400, "BadRequest", "invalid resourceVersion " + *rvp, what};
    if (*from < compacted_rv_)  // the real server sends this as an ERROR event
      return ApiError{410, "Expired", "The resourceVersion for the provided watch is too old.", what};
    if (*from > rv_) return ApiError{504, "Timeout", "Too large resource version: " + *rvp, what};
    w->next = static_cast<size_t>(
        std::partition_point(history_.begin(), history_.end(), [&](const Event& e) { return e.rv <= *from; }) -
        history_.begin());
  }
  watches_.push_back(w);
  changed();
  auto finish = [&](ApiResult<std::monostate> result) {
    watches_.remove(w);
    changed();
    return result;
  };

  while (true) {
    if (cancelled_) return finish(ApiError{0, "Cancelled", "watch cancelled", what});
    std::optional<WatchEvent> ev;
    if (!initial.empty()) {
      ev = WatchEvent{WatchEvent::Type::Added, std::move(initial.front())};
      initial.pop_front();
    } else if (!w->pending_bookmarks.empty() && w->pending_bookmarks.front() <= w->next) {
      w->pending_bookmarks.pop_front();
      ev = WatchEvent{WatchEvent::Type::Bookmark,
                      json{{"kind", kind_of(w->collection)},
                           {"apiVersion", api_version_of(w->collection)},
                           {"metadata", {{"resourceVersion", std::to_string(rv_)}}}}};
    } else if (w->next < history_.size() && (!w->end_at || w->next < *w->end_at)) {
      const Event& e = history_[w->next++];
      if (e.collection != w->collection || (!w->ns.empty() && e.ns != w->ns)) continue;
      ev = WatchEvent{e.type, e.object};
    } else if (w->end_at) {
      if (!w->end_error) return finish(std::monostate{});
      ApiError err = *w->end_error;
      if (err.request.empty()) err.request = what;
      return finish(err);
    } else {
      cv_.wait(lock);
      continue;
    }
    lock.unlock();
    bool go_on = on_event(*ev);
    lock.lock();
    if (!go_on) return finish(std::monostate{});
  }
}

ApiResult<json> FakeKubeApi::patch(const std::string& path, const json& body, const std::string& content_type) {
  call_hook("PATCH", path);
  std::lock_guard lock(mu_);
  patches_.push_back(Write{path, body, content_type});
  changed();
  const std::string what = "PATCH " + path;
  if (auto e = take(patch_failures_)) {
    if (e->request.empty()) e->request = what;
    return *e;
  }
  Target t = parse_target(path);
  if (!t.valid || t.name.empty() || (!t.subresource.empty() && t.subresource != "status"))
    return ApiError{404, "NotFound", "the server could not find the requested resource", what};
  auto& objects = collections_[t.collection];
  auto it = objects.find(key(t.ns, t.name));
  if (it == objects.end()) return ApiError{404, "NotFound", kind_of(t.collection) + " \"" + t.name + "\" not found", what};
  if (content_type != "application/merge-patch+json") return it->second;  // recorded only
  if (!body.is_object()) return ApiError{400, "BadRequest", "patch body must be a JSON object", what};
  std::string want_rv = meta_string(body, "resourceVersion");
  if (!want_rv.empty() && want_rv != meta_string(it->second, "resourceVersion"))
    return ApiError{409, "Conflict", "the object has been modified; please apply your changes to the latest version", what};
  json next = it->second;
  if (t.subresource == "status") {
    // the status subresource takes status only
    if (body.contains("status")) {
      json status_only = {{"status", body["status"]}};
      next.merge_patch(status_only);
    }
  } else {
    json without_status = body;
    without_status.erase("status");
    next.merge_patch(without_status);
  }
  next["metadata"]["name"] = t.name;
  if (!t.ns.empty()) next["metadata"]["namespace"] = t.ns;
  next["metadata"]["uid"] = it->second["metadata"]["uid"];
  it->second = record_locked(t.collection, WatchEvent::Type::Modified, std::move(next));
  return it->second;
}

ApiResult<json> FakeKubeApi::post(const std::string& path, const json& body) {
  call_hook("POST", path);
  std::lock_guard lock(mu_);
  posts_.push_back(Write{path, body, "application/json"});
  changed();
  const std::string what = "POST " + path;
  if (auto e = take(post_failures_)) {
    if (e->request.empty()) e->request = what;
    return *e;
  }
  Target t = parse_target(path);
  if (!t.valid || !t.name.empty()) return ApiError{405, "MethodNotAllowed", "POST is for collections", what};
  if (!body.is_object()) return ApiError{400, "BadRequest", "body must be a JSON object", what};
  json object = body;
  std::string ns = meta_string(object, "namespace");
  if (!ns.empty() && !t.ns.empty() && ns != t.ns)
    return ApiError{400, "BadRequest", "the namespace of the object does not match the namespace on the request", what};
  if (!t.ns.empty()) object["metadata"]["namespace"] = t.ns;
  std::string name = meta_string(object, "name");
  if (name.empty()) {
    std::string prefix = meta_string(object, "generateName");
    if (prefix.empty()) return ApiError{422, "Invalid", "metadata.name or generateName is required", what};
    name = prefix + "f" + std::to_string(next_uid_);
    object["metadata"]["name"] = name;
  }
  auto& objects = collections_[t.collection];
  if (objects.count(key(t.ns, name)))
    return ApiError{409, "AlreadyExists", kind_of(t.collection) + " \"" + name + "\" already exists", what};
  if (!object.contains("kind")) object["kind"] = kind_of(t.collection);
  if (!object.contains("apiVersion")) object["apiVersion"] = api_version_of(t.collection);
  object["metadata"]["uid"] = "fake-uid-" + std::to_string(next_uid_++);
  object = record_locked(t.collection, WatchEvent::Type::Added, std::move(object));
  objects[key(t.ns, name)] = object;
  return object;
}

void FakeKubeApi::cancel_watches() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  changed();
}

}  // namespace kvlb::fakes
