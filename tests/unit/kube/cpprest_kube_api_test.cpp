// The cpprestsdk client against a scripted local HTTP server: request shape,
// error mapping, incremental watch delivery, idle timeouts, cancellation.
// (TLS and the real apiserver: live_test.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <thread>

#include "kube/kube_api.h"
#include "script_server.h"
#include "test_pki.h"

namespace kvlb::kube {
namespace {

using namespace std::chrono_literals;
using testing::HttpRequestSeen;
using testing::ScriptConnection;
using testing::ScriptServer;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string event_line(const std::string& type, const std::string& name, const std::string& rv) {
  return json{{"type", type}, {"object", {{"kind", "Service"}, {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}}
             .dump() +
         "\n";
}

// A one-shot flag with a bounded wait.
class Signal {
 public:
  void set() {
    std::lock_guard lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

std::unique_ptr<KubeApi> client_for(const ScriptServer& server, Access access = {}, ClientOptions options = {}) {
  access.server = server.url();
  return make_kube_api(access, options);
}

TEST(CpprestKubeApi, GetSendsHeadersAndDecodesJson) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) { c.respond(200, R"({"kind":"ServiceList","items":[]})"); });
  Access access;
  access.token = "s3cret";
  auto api = client_for(server, access);
  auto r = api->get("/api/v1/services?limit=2");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ((*r)["kind"], "ServiceList");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/api/v1/services?limit=2");
  EXPECT_EQ(reqs[0].header("Authorization"), "Bearer s3cret");
  EXPECT_EQ(reqs[0].header("User-Agent"), "kvlbd");
  EXPECT_EQ(reqs[0].header("Accept"), "application/json");
}

TEST(CpprestKubeApi, TokenFileIsReadForEveryRequest) {
  testing::TempDir dir;
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) { c.respond(200, "{}"); });
  Access access;
  access.token = "static-token-loses";
  access.token_file = dir.write("token", "first\n");
  auto api = client_for(server, access);
  ASSERT_TRUE(api->get("/a").ok());
  dir.write("token", "second");
  ASSERT_TRUE(api->get("/b").ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].header("Authorization"), "Bearer first");
  EXPECT_EQ(reqs[1].header("Authorization"), "Bearer second");
}

TEST(CpprestKubeApi, StatusBodyBecomesApiError) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) {
    c.respond(404, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"services \"x\" not found","reason":"NotFound","code":404})", "Not Found");
  });
  auto api = client_for(server);
  auto r = api->get("/api/v1/namespaces/default/services/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 404);
  EXPECT_EQ(r.error().reason, "NotFound");
  EXPECT_EQ(r.error().message, "services \"x\" not found");
  EXPECT_FALSE(r.error().gone());
  EXPECT_EQ(r.error().describe(), "GET /api/v1/namespaces/default/services/x: 404 NotFound: services \"x\" not found");
}

TEST(CpprestKubeApi, NonStatusErrorBodyAndNonJsonSuccess) {
  ScriptServer server([](const HttpRequestSeen& req, ScriptConnection& c) {
    if (req.target == "/html") c.respond(200, "<html>hello</html>");
    else c.respond(503, "upstream down", "Service Unavailable");
  });
  auto api = client_for(server);
  auto a = api->get("/x");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().status, 503);
  EXPECT_EQ(a.error().reason, "Service Unavailable");
  EXPECT_EQ(a.error().message, "upstream down");
  auto b = api->get("/html");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().status, 0);
  EXPECT_EQ(b.error().reason, "BadResponse");
}

TEST(CpprestKubeApi, PatchAndPostSendBodyAndContentType) {
  ScriptServer server([](const HttpRequestSeen& req, ScriptConnection& c) { c.respond(200, json{{"echo", req.method}}.dump()); });
  auto api = client_for(server);
  json body = {{"status", {{"loadBalancer", {{"ingress", {{{"ip", "192.0.2.1"}}}}}}}}};
  auto p = api->patch("/api/v1/namespaces/d/services/s/status", body);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  auto q = api->post("/api/v1/namespaces/d/events", json{{"reason", "Test"}});
  ASSERT_TRUE(q.ok()) << q.error().describe();
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "PATCH");
  EXPECT_EQ(reqs[0].header("Content-Type").rfind("application/merge-patch+json", 0), 0u) << reqs[0].header("Content-Type");
  EXPECT_EQ(json::parse(reqs[0].body), body);
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].header("Content-Type").rfind("application/json", 0), 0u);
  EXPECT_EQ(json::parse(reqs[1].body)["reason"], "Test");
}

TEST(CpprestKubeApi, WatchDeliversEachEventAsItArrives) {
  Signal first_seen;
  std::atomic<bool> released_by_client{false};
  ScriptServer server([&](const HttpRequestSeen&, ScriptConnection& c) {
    c.chunked_headers();
    c.send_chunk(event_line("ADDED", "a", "11"));
    // Hold the rest back until the client has handed the first event on: if
    // events were only delivered at the end of the body, this times out.
    released_by_client = first_seen.wait(5s);
    // Two events in one chunk, then one split over two chunks.
    c.send_chunk(event_line("MODIFIED", "a", "12") + event_line("BOOKMARK", "", "13"));
    std::string last = event_line("DELETED", "a", "14");
    c.send_chunk(last.substr(0, 10));
    c.send_chunk(last.substr(10));
    c.end_chunks();
  });
  auto api = client_for(server);
  std::vector<std::pair<WatchEvent::Type, std::string>> seen;
  auto r = api->watch("/api/v1/services?resourceVersion=10", [&](const WatchEvent& ev) {
    seen.emplace_back(ev.type, ev.object["metadata"].value("resourceVersion", ""));
    if (seen.size() == 1) first_seen.set();
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(released_by_client) << "the first event was not delivered before the stream went on";
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], std::make_pair(WatchEvent::Type::Added, std::string("11")));
  EXPECT_EQ(seen[1], std::make_pair(WatchEvent::Type::Modified, std::string("12")));
  EXPECT_EQ(seen[2], std::make_pair(WatchEvent::Type::Bookmark, std::string("13")));
  EXPECT_EQ(seen[3], std::make_pair(WatchEvent::Type::Deleted, std::string("14")));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/api/v1/services?resourceVersion=10&watch=true");
}

TEST(CpprestKubeApi, WatchErrorEventBecomesApiError) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) {
    c.chunked_headers();
    c.send_chunk(event_line("ADDED", "a", "5"));
    c.send_chunk(R"J({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (229)","reason":"Expired","code":410}})J"
                 "\n");
    c.end_chunks();
  });
  auto api = client_for(server);
  int events = 0;
  auto r = api->watch("/api/v1/services?watch=true&resourceVersion=4", [&](const WatchEvent&) { return ++events, true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(events, 1);
  EXPECT_TRUE(r.error().gone());
  EXPECT_EQ(r.error().status, 410);
  EXPECT_EQ(r.error().reason, "Expired");
  EXPECT_EQ(server.requests().at(0).target, "/api/v1/services?watch=true&resourceVersion=4");  // not added twice
}

TEST(CpprestKubeApi, WatchRefusedWithStatus) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) {
    c.respond(403, R"({"kind":"Status","status":"Failure","message":"forbidden","reason":"Forbidden","code":403})", "Forbidden");
  });
  auto api = client_for(server);
  auto r = api->watch("/api/v1/services", [](const WatchEvent&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 403);
  EXPECT_EQ(r.error().reason, "Forbidden");
}

TEST(CpprestKubeApi, WatchBadLineIsAnError) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) {
    c.chunked_headers();
    c.send_chunk("this is not json\n");
    c.peer_closed(2000);
  });
  auto api = client_for(server);
  auto r = api->watch("/w", [](const WatchEvent&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 0);
  EXPECT_EQ(r.error().reason, "BadResponse");
}

TEST(CpprestKubeApi, WatchIdleTimeout) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) {
    c.chunked_headers();
    c.send_chunk(event_line("ADDED", "a", "1"));
    c.peer_closed(5000);  // then silence until the client gives up
  });
  ClientOptions options;
  options.watch_idle_timeout = 400ms;
  auto api = client_for(server, {}, options);
  int events = 0;
  auto start = Clock::now();
  auto r = api->watch("/w", [&](const WatchEvent&) { return ++events, true; });
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(events, 1);
  EXPECT_EQ(r.error().reason, "Idle") << r.error().describe();
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 3s);
}

TEST(CpprestKubeApi, WatchNeverAnsweredIsATimeout) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) { c.peer_closed(5000); });
  ClientOptions options;
  options.watch_idle_timeout = 300ms;
  auto api = client_for(server, {}, options);
  auto r = api->watch("/w", [](const WatchEvent&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "Timeout") << r.error().describe();
}

TEST(CpprestKubeApi, WatchIdleTimeoutIsRearmedByData) {
  // An event every 100 ms for 1 s, idle timeout 600 ms: no timeout, though
  // the whole stream takes longer than that.
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) {
    c.chunked_headers();
    for (int i = 0; i < 10; ++i) {
      c.send_chunk(event_line("ADDED", "a" + std::to_string(i), std::to_string(i + 1)));
      std::this_thread::sleep_for(100ms);
    }
    c.end_chunks();
  });
  ClientOptions options;
  options.watch_idle_timeout = 600ms;
  auto api = client_for(server, {}, options);
  int events = 0;
  auto r = api->watch("/w", [&](const WatchEvent&) { return ++events, true; });
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(events, 10);
}

TEST(CpprestKubeApi, RequestTimeout) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) { c.peer_closed(5000); });
  ClientOptions options;
  options.request_timeout = 300ms;
  auto api = client_for(server, {}, options);
  auto start = Clock::now();
  auto r = api->get("/slow");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 0);
  EXPECT_EQ(r.error().reason, "Timeout") << r.error().describe();
  EXPECT_LT(Clock::now() - start, 3s);
}

TEST(CpprestKubeApi, OnEventFalseEndsTheWatchAtOnce) {
  Signal client_left;
  ScriptServer server([&](const HttpRequestSeen&, ScriptConnection& c) {
    c.chunked_headers();
    c.send_chunk(event_line("ADDED", "a", "1") + event_line("ADDED", "b", "2"));
    if (c.peer_closed(5000)) client_left.set();  // the client closes the connection
  });
  auto api = client_for(server);
  int events = 0;
  auto start = Clock::now();
  auto r = api->watch("/w", [&](const WatchEvent&) { return ++events < 1; });
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(events, 1);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_TRUE(client_left.wait(3s));
}

TEST(CpprestKubeApi, CancelWatchesFromAnotherThread) {
  ScriptServer server([](const HttpRequestSeen&, ScriptConnection& c) {
    c.chunked_headers();
    c.send_chunk(event_line("ADDED", "a", "1"));
    c.peer_closed(10000);
  });
  auto api = client_for(server);
  Signal started;
  auto done = std::async(std::launch::async, [&] {
    return api->watch("/w", [&](const WatchEvent&) { return started.set(), true; });
  });
  ASSERT_TRUE(started.wait(5s));
  auto cancel_at = Clock::now();
  api->cancel_watches();
  ASSERT_EQ(done.wait_for(3s), std::future_status::ready) << "watch did not return after cancel_watches()";
  EXPECT_LT(Clock::now() - cancel_at, 2s);
  auto r = done.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "Cancelled");
  // Sticky: a later watch returns at once; plain requests still work.
  auto again = api->watch("/w", [](const WatchEvent&) { return true; });
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().reason, "Cancelled");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(CpprestKubeApi, ConnectionRefused) {
  int port;
  {
    ScriptServer gone([](const HttpRequestSeen&, ScriptConnection&) {});
    port = gone.port();
  }
  Access access;
  access.server = "http://127.0.0.1:" + std::to_string(port);
  auto api = make_kube_api(access);
  auto r = api->get("/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 0);
  EXPECT_EQ(r.error().reason, "Transport");
  EXPECT_EQ(r.error().request, "GET /x");
}

TEST(CpprestKubeApi, ClientConfigErrorsComeBackFromEveryCall) {
  Access bad_ca;
  bad_ca.server = "https://127.0.0.1:1";
  bad_ca.ca_pem = "not a certificate";
  auto api = make_kube_api(bad_ca);
  auto r = api->get("/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "ClientConfig");
  EXPECT_NE(r.error().message.find("CA: no PEM certificate found"), std::string::npos) << r.error().describe();
  auto w = api->watch("/x", [](const WatchEvent&) { return true; });
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().reason, "ClientConfig");

  Access v6;
  v6.server = "https://[fd00::1]:6443";
  auto r6 = make_kube_api(v6)->get("/x");
  ASSERT_FALSE(r6.ok());
  EXPECT_EQ(r6.error().reason, "ClientConfig");
  EXPECT_NE(r6.error().message.find("IPv6"), std::string::npos) << r6.error().describe();

  Access mismatched;
  mismatched.server = "https://127.0.0.1:1";
  auto a = testing::make_cert("a", false);
  auto b = testing::make_cert("b", false);
  mismatched.client_cert_pem = a.cert_pem;
  mismatched.client_key_pem = "garbage";
  auto rk = make_kube_api(mismatched)->get("/x");
  ASSERT_FALSE(rk.ok());
  EXPECT_NE(rk.error().message.find("client key: no PEM private key found"), std::string::npos) << rk.error().describe();
  mismatched.client_key_pem = b.key_pem;
  auto rm = make_kube_api(mismatched)->get("/x");
  ASSERT_FALSE(rm.ok());
  EXPECT_NE(rm.error().message.find("client key does not match client certificate"), std::string::npos)
      << rm.error().describe();
}

TEST(KubeApiHelpers, ApiErrorGoneAndDescribe) {
  EXPECT_TRUE((ApiError{410, "", "", ""}.gone()));
  EXPECT_TRUE((ApiError{0, "Expired", "", ""}.gone()));
  EXPECT_TRUE((ApiError{500, "Gone", "", ""}.gone()));
  EXPECT_FALSE((ApiError{404, "NotFound", "", ""}.gone()));
  EXPECT_FALSE((ApiError{0, "Timeout", "", ""}.gone()));
  EXPECT_EQ((ApiError{0, "Timeout", "no data", "WATCH /w"}.describe()), "WATCH /w: Timeout: no data");
  EXPECT_EQ((ApiError{0, "Transport", "refused", ""}.describe()), "refused");
  EXPECT_EQ((ApiError{410, "Expired", "too old", ""}.describe()), "410 Expired: too old");
}

TEST(KubeApiHelpers, StatusError) {
  auto e = status_error(json::parse(R"({"kind":"Status","code":410,"reason":"Expired","message":"m"})"), 200, "WATCH /x");
  EXPECT_EQ(e.status, 410);
  EXPECT_EQ(e.reason, "Expired");
  EXPECT_EQ(e.message, "m");
  EXPECT_EQ(e.request, "WATCH /x");
  auto odd = status_error(json::parse(R"({"foo":1})"), 0, "");
  EXPECT_EQ(odd.status, 0);
  EXPECT_EQ(odd.reason, "BadResponse");
  EXPECT_EQ(odd.message, R"({"foo":1})");
}

TEST(KubeApiHelpers, QueryEscapeAndSplit) {
  EXPECT_EQ(query_escape("abc-._~09"), "abc-._~09");
  EXPECT_EQ(query_escape("a+b/c=d&e f"), "a%2Bb%2Fc%3Dd%26e%20f");
  auto pq = split_path_and_query("/api/v1/x?limit=5&continue=" + query_escape("s1+o3/=") + "&flag&limit=6");
  EXPECT_EQ(pq.path, "/api/v1/x");
  ASSERT_NE(pq.find("continue"), nullptr);
  EXPECT_EQ(*pq.find("continue"), "s1+o3/=");
  ASSERT_NE(pq.find("flag"), nullptr);
  EXPECT_EQ(*pq.find("flag"), "");
  EXPECT_EQ(*pq.find("limit"), "6");  // the last one wins
  EXPECT_EQ(pq.find("watch"), nullptr);
  EXPECT_EQ(split_path_and_query("/plain").path, "/plain");
  EXPECT_TRUE(split_path_and_query("/plain").query.empty());
}

}  // namespace
}  // namespace kvlb::kube
