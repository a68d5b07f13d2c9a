#include "fakes/fake_kube_api.h"

#include <gtest/gtest.h>

#include <future>

namespace kvlb::fakes {
namespace {

using kube::ApiError;
using kube::WatchEvent;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kSvc = "/api/v1/services";

json svc(const std::string& ns, const std::string& name, int port = 80) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}}, {"spec", {{"ports", {{{"port", port}}}}}}};
}

std::string rv_of(const json& o) { return o["metadata"]["resourceVersion"].get<std::string>(); }

struct Seen {
  WatchEvent::Type type;
  std::string name;
  std::string rv;
};

// Runs a watch in the background, collecting events.
class Watcher {
 public:
  Watcher(FakeKubeApi& api, std::string path) {
    result_ = std::async(std::launch::async, [&api, path, this] {
      return api.watch(path, [this](const WatchEvent& ev) {
        std::lock_guard lock(mu_);
        seen_.push_back({ev.type, ev.object["metadata"].value("name", ""), ev.object["metadata"].value("resourceVersion", "")});
        return true;
      });
    });
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  size_t count() { return seen().size(); }
  kube::ApiResult<std::monostate> result() {
    EXPECT_EQ(result_.wait_for(5s), std::future_status::ready);
    return result_.get();
  }

 private:
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::future<kube::ApiResult<std::monostate>> result_;
};

TEST(FakeKubeApi, WritesBumpOneResourceVersion) {
  FakeKubeApi api;
  uint64_t start = api.resource_version();
  auto a = api.create(kSvc, svc("default", "a"));
  ASSERT_FALSE(a.is_null());
  EXPECT_EQ(rv_of(a), std::to_string(start + 1));
  EXPECT_EQ(a["kind"], "Service");
  EXPECT_EQ(a["apiVersion"], "v1");
  EXPECT_FALSE(a["metadata"]["uid"].get<std::string>().empty());
  EXPECT_TRUE(api.create(kSvc, svc("default", "a")).is_null());  // exists
  api.create("/api/v1/nodes", json{{"metadata", {{"name", "n1"}}}});
  auto a2 = api.update(kSvc, svc("default", "a", 81));
  EXPECT_EQ(rv_of(a2), std::to_string(start + 3));
  EXPECT_EQ(a2["metadata"]["uid"], a["metadata"]["uid"]);
  EXPECT_TRUE(api.update(kSvc, svc("default", "zz")).is_null());
  EXPECT_TRUE(api.remove(kSvc, "default", "a"));
  EXPECT_FALSE(api.remove(kSvc, "default", "a"));
  EXPECT_EQ(api.resource_version(), start + 4);
  EXPECT_TRUE(api.objects(kSvc).empty());
}

TEST(FakeKubeApi, ListAndGet) {
  FakeKubeApi api;
  api.create(kSvc, svc("b", "x"));
  api.create(kSvc, svc("a", "y"));
  auto list = api.get(kSvc);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["kind"], "ServiceList");
  EXPECT_EQ((*list)["metadata"]["resourceVersion"], std::to_string(api.resource_version()));
  ASSERT_EQ((*list)["items"].size(), 2u);
  EXPECT_EQ((*list)["items"][0]["metadata"]["name"], "y");  // sorted by namespace/name
  EXPECT_FALSE((*list)["items"][0].contains("kind"));        // as the real API
  auto ns = api.get("/api/v1/namespaces/b/services");
  ASSERT_TRUE(ns.ok());
  ASSERT_EQ((*ns)["items"].size(), 1u);
  EXPECT_EQ((*ns)["items"][0]["metadata"]["name"], "x");
  auto one = api.get("/api/v1/namespaces/b/services/x");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)["metadata"]["name"], "x");
  auto none = api.get("/api/v1/namespaces/b/services/nope");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().status, 404);
  EXPECT_EQ(none.error().reason, "NotFound");
  EXPECT_EQ(api.get_requests().size(), 4u);
}

TEST(FakeKubeApi, PaginationAndExpiredContinue) {
  FakeKubeApi api;
  for (int i = 0; i < 5; ++i) api.create(kSvc, svc("d", "s" + std::to_string(i)));
  auto p1 = api.get(kSvc + "?limit=2");
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ((*p1)["items"].size(), 2u);
  std::string cont = (*p1)["metadata"]["continue"];
  EXPECT_EQ((*p1)["metadata"]["remainingItemCount"], 3);
  // Writes after the first page do not show: pages come from one snapshot.
  api.create(kSvc, svc("d", "s9"));
  auto p2 = api.get(kSvc + "?limit=2&continue=" + kube::query_escape(cont));
  ASSERT_TRUE(p2.ok()) << p2.error().describe();
  EXPECT_EQ((*p2)["items"][0]["metadata"]["name"], "s2");
  EXPECT_EQ((*p2)["metadata"]["resourceVersion"], (*p1)["metadata"]["resourceVersion"]);
  std::string cont2 = (*p2)["metadata"]["continue"];
  // An unescaped token does not parse ('+' reads as a space).
  auto raw = api.get(kSvc + "?limit=2&continue=" + cont2);
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.error().status, 400);
  api.compact();
  auto p3 = api.get(kSvc + "?limit=2&continue=" + kube::query_escape(cont2));
  ASSERT_FALSE(p3.ok());
  EXPECT_EQ(p3.error().status, 410);
  EXPECT_TRUE(p3.error().gone());
}

TEST(FakeKubeApi, WatchReplaysFromResourceVersionAndFollows) {
  FakeKubeApi api;
  auto a = api.create(kSvc, svc("d", "a"));
  api.create(kSvc, svc("other", "b"));
  api.create("/api/v1/nodes", json{{"metadata", {{"name", "n"}}}});  // another collection
  Watcher all(api, kSvc + "?resourceVersion=" + rv_of(a));
  Watcher one_ns(api, "/api/v1/namespaces/d/services?resourceVersion=" + rv_of(a));
  ASSERT_TRUE(api.wait_until([&] { return all.count() == 1 && api.open_watches() == 2; }));
  api.update(kSvc, svc("d", "a", 90));
  api.remove(kSvc, "other", "b");
  ASSERT_TRUE(api.wait_until([&] { return all.count() == 3 && one_ns.count() == 1; }));
  api.end_watches();
  ASSERT_TRUE(all.result().ok());
  ASSERT_TRUE(one_ns.result().ok());
  auto s = all.seen();
  EXPECT_EQ(s[0].type, WatchEvent::Type::Added);
  EXPECT_EQ(s[0].name, "b");
  EXPECT_EQ(s[1].type, WatchEvent::Type::Modified);
  EXPECT_EQ(s[2].type, WatchEvent::Type::Deleted);
  EXPECT_EQ(s[2].name, "b");
  EXPECT_EQ(std::stoull(s[2].rv), api.resource_version());
  EXPECT_EQ(one_ns.seen()[0].name, "a");
  EXPECT_EQ(api.open_watches(), 0u);
}

TEST(FakeKubeApi, WatchFromZeroStartsWithCurrentState) {
  FakeKubeApi api;
  api.create(kSvc, svc("d", "a"));
  Watcher w(api, kSvc + "?resourceVersion=0");
  ASSERT_TRUE(api.wait_until([&] { return w.count() == 1; }));
  api.end_watches();
  ASSERT_TRUE(w.result().ok());
  EXPECT_EQ(w.seen()[0].type, WatchEvent::Type::Added);
}

TEST(FakeKubeApi, BookmarksOnlyWhenAskedAndAfterDueEvents) {
  FakeKubeApi api;
  std::string rv = std::to_string(api.resource_version());
  Watcher with(api, kSvc + "?resourceVersion=" + rv + "&allowWatchBookmarks=true");
  Watcher without(api, kSvc + "?resourceVersion=" + rv);
  ASSERT_TRUE(api.wait_until([&] { return api.open_watches() == 2; }));
  api.create(kSvc, svc("d", "a"));
  api.create("/api/v1/nodes", json{{"metadata", {{"name", "n"}}}});
  api.bookmark(kSvc);
  ASSERT_TRUE(api.wait_until([&] { return with.count() == 2 && without.count() == 1; }));
  api.end_watches();
  ASSERT_TRUE(with.result().ok());
  ASSERT_TRUE(without.result().ok());
  auto s = with.seen();
  EXPECT_EQ(s[0].type, WatchEvent::Type::Added);
  EXPECT_EQ(s[1].type, WatchEvent::Type::Bookmark);
  EXPECT_EQ(s[1].rv, std::to_string(api.resource_version()));
  EXPECT_EQ(without.seen().size(), 1u);
}

TEST(FakeKubeApi, WatchErrors) {
  FakeKubeApi api;
  auto a = api.create(kSvc, svc("d", "a"));
  api.create(kSvc, svc("d", "b"));
  api.compact();
  auto gone = api.watch(kSvc + "?resourceVersion=" + rv_of(a), [](const WatchEvent&) { return true; });
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().gone());
  // From the compacted version itself is fine.
  Watcher ok(api, kSvc + "?resourceVersion=" + std::to_string(api.resource_version()));
  ASSERT_TRUE(api.wait_until([&] { return api.open_watches() == 1; }));
  api.create(kSvc, svc("d", "c"));
  api.fail_watches(ApiError{0, "Transport", "connection reset", ""});
  auto r = ok.result();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "Transport");
  EXPECT_EQ(ok.count(), 1u);  // the event due before the failure came first

  api.fail_next_watch(ApiError{500, "InternalError", "boom", ""});
  auto injected = api.watch(kSvc, [](const WatchEvent&) { return true; });
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.error().status, 500);
  EXPECT_EQ(injected.error().request, "WATCH " + kSvc);
  auto too_new = api.watch(kSvc + "?resourceVersion=999999", [](const WatchEvent&) { return true; });
  ASSERT_FALSE(too_new.ok());
  EXPECT_EQ(too_new.error().status, 504);
}

TEST(FakeKubeApi, OnEventFalseAndCancel) {
  FakeKubeApi api;
  api.create(kSvc, svc("d", "a"));
  api.create(kSvc, svc("d", "b"));
  int n = 0;
  auto r = api.watch(kSvc + "?resourceVersion=0", [&](const WatchEvent&) { return ++n < 1; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(n, 1);
  Watcher w(api, kSvc + "?resourceVersion=" + std::to_string(api.resource_version()));
  ASSERT_TRUE(api.wait_until([&] { return api.open_watches() == 1; }));
  api.cancel_watches();
  auto c = w.result();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().reason, "Cancelled");
  EXPECT_TRUE(api.watches_cancelled());
  auto later = api.watch(kSvc, [](const WatchEvent&) { return true; });
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().reason, "Cancelled");
}

TEST(FakeKubeApi, PatchStatusAndMain) {
  FakeKubeApi api;
  auto s = svc("d", "a");
  s["status"] = json::object();
  api.create(kSvc, s);
  json status_patch = {{"status", {{"loadBalancer", {{"ingress", {{{"ip", "192.0.2.7"}}}}}}}}, {"spec", {{"x", 1}}}};
  auto p = api.patch("/api/v1/namespaces/d/services/a/status", status_patch);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ((*p)["status"]["loadBalancer"]["ingress"][0]["ip"], "192.0.2.7");
  EXPECT_FALSE((*p)["spec"].contains("x"));  // the status subresource takes status only
  auto m = api.patch("/api/v1/namespaces/d/services/a", json{{"metadata", {{"labels", {{"k", "v"}}}}}, {"status", nullptr}});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)["metadata"]["labels"]["k"], "v");
  EXPECT_EQ((*m)["status"]["loadBalancer"]["ingress"][0]["ip"], "192.0.2.7");  // main resource ignores status
  auto conflict = api.patch("/api/v1/namespaces/d/services/a/status", json{{"metadata", {{"resourceVersion", "1"}}}});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().status, 409);
  auto missing = api.patch("/api/v1/namespaces/d/services/zz/status", status_patch);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().status, 404);
  api.fail_next_patch(ApiError{500, "InternalError", "x", ""});
  EXPECT_FALSE(api.patch("/api/v1/namespaces/d/services/a/status", status_patch).ok());
  auto patches = api.patches();
  ASSERT_EQ(patches.size(), 5u);
  EXPECT_EQ(patches[0].path, "/api/v1/namespaces/d/services/a/status");
  EXPECT_EQ(patches[0].content_type, "application/merge-patch+json");
  EXPECT_EQ(patches[0].body, status_patch);
  EXPECT_EQ((*api.object(kSvc, "d", "a"))["status"]["loadBalancer"]["ingress"][0]["ip"], "192.0.2.7");
}

TEST(FakeKubeApi, PostCreates) {
  FakeKubeApi api;
  json ev = {{"metadata", {{"generateName", "web."}}}, {"reason", "IPAllocated"}};
  auto a = api.post("/api/v1/namespaces/d/events", ev);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  std::string name = (*a)["metadata"]["name"];
  EXPECT_EQ(name.rfind("web.", 0), 0u);
  EXPECT_EQ((*a)["metadata"]["namespace"], "d");
  EXPECT_EQ((*a)["kind"], "Event");
  auto b = api.post("/api/v1/namespaces/d/events", ev);
  ASSERT_TRUE(b.ok());
  EXPECT_NE((*b)["metadata"]["name"], name);
  auto dup = api.post("/api/v1/namespaces/d/events", json{{"metadata", {{"name", name}}}});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().status, 409);
  EXPECT_EQ(dup.error().reason, "AlreadyExists");
  auto wrong_ns = api.post("/api/v1/namespaces/d/events", json{{"metadata", {{"name", "q"}, {"namespace", "e"}}}});
  ASSERT_FALSE(wrong_ns.ok());
  EXPECT_EQ(wrong_ns.error().status, 400);
  EXPECT_EQ(api.posts().size(), 4u);
  EXPECT_EQ(api.objects("/api/v1/events").size(), 2u);
}

TEST(FakeKubeApi, CallHook) {
  FakeKubeApi api;
  std::vector<std::string> calls;
  api.set_call_hook([&](const std::string& method, const std::string& path) { calls.push_back(method + " " + path); });
  (void)api.get(kSvc);
  (void)api.post("/api/v1/namespaces/d/events", json{{"metadata", {{"name", "e"}}}});
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], "GET " + kSvc);
  EXPECT_EQ(calls[1], "POST /api/v1/namespaces/d/events");
}

}  // namespace
}  // namespace kvlb::fakes
