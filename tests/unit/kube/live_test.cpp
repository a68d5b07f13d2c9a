// KubeLive.*: the client layer against a real etcd + kube-apiserver started by
// tests/k8s/cluster (run them with tests/k8s/client_live, ctest k8s.client_live).
// KVLB_TEST_KUBECONFIG names DIR/kubeconfig (or DIR/kubeconfig-token) of that
// cluster; DIR/cluster.env gives kubectl and etcdctl, and the cluster script
// stops and starts the apiserver. client_live starts the apiserver with
// --watch-cache-sizes=configmaps#0 so that configmaps are watched straight
// from etcd, where a compacted resourceVersion gets 410.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "informer_support.h"
#include "kube/access.h"
#include "kube/informer.h"
#include "kube/kube_api.h"
#include "test_pki.h"

namespace kvlb::kube {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Live {
  std::string kubeconfig;
  std::filesystem::path dir;
  std::map<std::string, std::string> env;  // cluster.env
};

std::optional<Live> live() {
  const char* path = std::getenv("KVLB_TEST_KUBECONFIG");
  if (!path || !*path) return std::nullopt;
  Live l;
  l.kubeconfig = path;
  l.dir = std::filesystem::path(path).parent_path();
  std::ifstream in(l.dir / "cluster.env");
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) l.env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return l;
}

#define LIVE_OR_FAIL(var)                                                                                    \
  auto var##_opt = live();                                                                                   \
  if (!var##_opt)                                                                                            \
    GTEST_FAIL() << "KVLB_TEST_KUBECONFIG is not set: these tests need a cluster from tests/k8s/cluster; run " \
                    "tests/k8s/client_live (ctest -R k8s.client_live)";                                      \
  const Live& var = *var##_opt

std::string unique(const std::string& prefix) {
  static std::mt19937 rng(std::random_device{}());
  return prefix + "-" + std::to_string(rng() % 1000000);
}

// Runs a shell command; its stdout, or nullopt if it failed.
std::optional<std::string> shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) {
    ADD_FAILURE() << "command failed (" << rc << "): " << cmd << "\n" << out;
    return std::nullopt;
  }
  return out;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::unique_ptr<KubeApi> api_for(const Live& l, ClientOptions options = {}) {
  auto access = load_kubeconfig(l.kubeconfig);
  EXPECT_TRUE(access.ok()) << access.error().describe();
  return make_kube_api(access.ok() ? *access : Access{}, options);
}

json service(const std::string& name, const std::string& type = "ClusterIP") {
  json s = {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", {{"name", name}}},
            {"spec", {{"type", type}, {"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}}}}};
  if (type == "LoadBalancer") s["spec"]["allocateLoadBalancerNodePorts"] = false;
  return s;
}

json configmap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"v", value}}}};
}

std::string rv_of(const json& o) { return o["metadata"]["resourceVersion"].get<std::string>(); }

// Compacts etcd's history up to the current revision (as seen by a fresh
// configmaps LIST, which is served from etcd).
void compact_etcd(const Live& l, KubeApi& api) {
  auto list = api.get("/api/v1/configmaps?limit=1");
  ASSERT_TRUE(list.ok()) << list.error().describe();
  std::string rev = (*list)["metadata"]["resourceVersion"];
  ASSERT_TRUE(shell(quoted(l.env.at("ETCDCTL")) + " --endpoints " + quoted(l.env.at("ETCD_ENDPOINT")) + " compact " +
                    rev + " 2>&1"));
}

void cluster(const Live& l, const std::string& verb) {
  ASSERT_TRUE(shell(std::string(KVLB_TEST_DATA_DIR) + "/k8s/cluster " + verb + " " + quoted(l.dir.string()) + " 2>&1"));
}

TEST(KubeLive, LoadsKubeconfigAndListsServices) {
  LIVE_OR_FAIL(l);
  auto access = load_kubeconfig(l.kubeconfig);
  ASSERT_TRUE(access.ok()) << access.error().describe();
  const bool token_auth = !access->token.empty() || !access->token_file.empty();
  EXPECT_NE(token_auth, !access->client_cert_pem.empty()) << "expected either a client certificate or a token";
  EXPECT_FALSE(access->ca_pem.empty());
  EXPECT_EQ(access->server.rfind("https://127.0.0.1:", 0), 0u);  // an IP address: verified against the IP SAN
  auto api = make_kube_api(*access);

  // The API server creates default/kubernetes itself shortly after it
  // starts serving: a freshly started one may not list it yet.
  bool found = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto list = api->get("/api/v1/services");
    ASSERT_TRUE(list.ok()) << list.error().describe();
    EXPECT_EQ((*list)["kind"], "ServiceList");
    EXPECT_FALSE((*list)["metadata"]["resourceVersion"].get<std::string>().empty());
    for (const auto& s : (*list)["items"])
      found |= s["metadata"]["namespace"] == "default" && s["metadata"]["name"] == "kubernetes";
    if (found || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(found) << "default/kubernetes not listed within 10 s";

  // Who the server thinks we are: the certificate's or the token's user.
  auto review = api->post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                          json{{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  ASSERT_TRUE(review.ok()) << review.error().describe();
  EXPECT_EQ((*review)["status"]["userInfo"]["username"], token_auth ? "kvlb-token-admin" : "kvlb-admin");
  std::printf("authenticated as %s by %s\n", (*review)["status"]["userInfo"]["username"].get<std::string>().c_str(),
              token_auth ? "bearer token" : "client certificate");
}

TEST(KubeLive, WatchSeesACreatedServiceWithinOneSecond) {
  LIVE_OR_FAIL(l);
  auto api = api_for(l);
  auto list = api->get("/api/v1/namespaces/default/services");
  ASSERT_TRUE(list.ok()) << list.error().describe();
  const std::string name = unique("watched");

  std::mutex mu;
  std::optional<Clock::time_point> seen_at;
  auto watch = std::async(std::launch::async, [&] {
    return api->watch("/api/v1/namespaces/default/services?resourceVersion=" + rv_of(*list) + "&allowWatchBookmarks=true",
                      [&](const WatchEvent& ev) {
                        if (ev.type == WatchEvent::Type::Added && ev.object["metadata"]["name"] == name) {
                          std::lock_guard lock(mu);
                          seen_at = Clock::now();
                        }
                        return true;
                      });
  });
  std::this_thread::sleep_for(300ms);  // let the watch connect
  ASSERT_EQ(watch.wait_for(0s), std::future_status::timeout) << "the watch ended early";
  auto created = api->post("/api/v1/namespaces/default/services", service(name));
  const auto created_at = Clock::now();
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_EQ((*created)["metadata"]["name"], name);

  std::optional<Clock::time_point> at;
  while (Clock::now() - created_at < 5s) {
    {
      std::lock_guard lock(mu);
      at = seen_at;
    }
    if (at) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(at) << "no ADDED event within 5 s";
  auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(*at - created_at);
  std::printf("ADDED seen %lld ms after the POST returned\n", static_cast<long long>(latency.count()));
  EXPECT_LT(latency, 1000ms);
  EXPECT_EQ(watch.wait_for(0s), std::future_status::timeout) << "delivered only when the stream ended";

  api->cancel_watches();
  ASSERT_EQ(watch.wait_for(5s), std::future_status::ready) << "cancel_watches() did not end the watch";
  auto r = watch.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, "Cancelled") << r.error().describe();
}

TEST(KubeLive, WatchFromACompactedResourceVersionIsGone) {
  LIVE_OR_FAIL(l);
  auto api = api_for(l);
  const std::string cm = unique("history");
  auto created = api->post("/api/v1/namespaces/default/configmaps", configmap(cm, "0"));
  ASSERT_TRUE(created.ok()) << created.error().describe();
  const std::string old_rv = rv_of(*created);
  for (int i = 1; i <= 2; ++i) {
    auto p = api->patch("/api/v1/namespaces/default/configmaps/" + cm, json{{"data", {{"v", std::to_string(i)}}}});
    ASSERT_TRUE(p.ok()) << p.error().describe();
  }
  ASSERT_NO_FATAL_FAILURE(compact_etcd(l, *api));

  int events = 0;
  auto gone = api->watch("/api/v1/namespaces/default/configmaps?resourceVersion=" + old_rv,
                         [&](const WatchEvent&) { return ++events, true; });
  ASSERT_FALSE(gone.ok()) << "a watch from a compacted resourceVersion was accepted (is the apiserver started with "
                             "--watch-cache-sizes=configmaps#0, as tests/k8s/client_live does?)";
  std::printf("watch from %s: %s\n", old_rv.c_str(), gone.error().describe().c_str());
  EXPECT_TRUE(gone.error().gone());
  EXPECT_EQ(gone.error().status, 410);
  EXPECT_EQ(gone.error().reason, "Expired");
  EXPECT_EQ(events, 0);

  // The control: from the current version the same watch is fine (the server ends it after 1 s).
  auto now = api->get("/api/v1/namespaces/default/configmaps");
  ASSERT_TRUE(now.ok());
  auto fine = api->watch("/api/v1/namespaces/default/configmaps?timeoutSeconds=1&resourceVersion=" + rv_of(*now),
                         [](const WatchEvent&) { return true; });
  EXPECT_TRUE(fine.ok()) << fine.error().describe();

  // A LIST continue token from before a compaction is gone too.
  ASSERT_TRUE(api->post("/api/v1/namespaces/default/configmaps", configmap(unique("second"), "x")).ok());
  auto page = api->get("/api/v1/namespaces/default/configmaps?limit=1");
  ASSERT_TRUE(page.ok()) << page.error().describe();
  std::string cont = (*page)["metadata"].value("continue", "");
  ASSERT_FALSE(cont.empty());
  ASSERT_TRUE(api->patch("/api/v1/namespaces/default/configmaps/" + cm, json{{"data", {{"v", "3"}}}}).ok());
  ASSERT_NO_FATAL_FAILURE(compact_etcd(l, *api));
  auto expired = api->get("/api/v1/namespaces/default/configmaps?limit=1&continue=" + query_escape(cont));
  ASSERT_FALSE(expired.ok());
  std::printf("continue after compaction: %s\n", expired.error().describe().c_str());
  EXPECT_TRUE(expired.error().gone());
  EXPECT_EQ(expired.error().status, 410);
}

TEST(KubeLive, PatchesServiceStatusIngress) {
  LIVE_OR_FAIL(l);
  auto api = api_for(l);
  const std::string name = unique("lb");
  auto created = api->post("/api/v1/namespaces/default/services", service(name, "LoadBalancer"));
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_TRUE((*created)["status"]["loadBalancer"].value("ingress", json::array()).empty());

  json patch = {{"status", {{"loadBalancer", {{"ingress", {{{"ip", "192.0.2.10"}, {"ipMode", "VIP"}}}}}}}}};
  auto patched = api->patch("/api/v1/namespaces/default/services/" + name + "/status", patch);
  ASSERT_TRUE(patched.ok()) << patched.error().describe();
  EXPECT_EQ((*patched)["status"]["loadBalancer"]["ingress"][0]["ip"], "192.0.2.10");
  EXPECT_NE(rv_of(*patched), rv_of(*created));

  auto read = api->get("/api/v1/namespaces/default/services/" + name);
  ASSERT_TRUE(read.ok()) << read.error().describe();
  EXPECT_EQ((*read)["status"]["loadBalancer"]["ingress"][0]["ip"], "192.0.2.10");
  EXPECT_EQ((*read)["spec"]["type"], "LoadBalancer");

  auto missing = api->patch("/api/v1/namespaces/default/services/" + unique("absent") + "/status", patch);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().status, 404);
  EXPECT_EQ(missing.error().reason, "NotFound");
}

TEST(KubeLive, PostsACoreEvent) {
  LIVE_OR_FAIL(l);
  auto api = api_for(l);
  const std::string name = unique("evented");
  auto svc = api->post("/api/v1/namespaces/default/services", service(name));
  ASSERT_TRUE(svc.ok()) << svc.error().describe();
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"generateName", name + "."}, {"namespace", "default"}}},
                {"involvedObject",
                 {{"apiVersion", "v1"},
                  {"kind", "Service"},
                  {"namespace", "default"},
                  {"name", name},
                  {"uid", (*svc)["metadata"]["uid"]},
                  {"resourceVersion", rv_of(*svc)}}},
                {"reason", "IPAllocated"},
                {"message", "Assigned IP 192.0.2.10"},
                {"type", "Normal"},
                {"source", {{"component", "kvlbd"}, {"host", "lb1"}}},
                {"firstTimestamp", "2024-01-01T00:00:00Z"},
                {"lastTimestamp", "2024-01-01T00:00:00Z"},
                {"count", 1}};
  auto posted = api->post("/api/v1/namespaces/default/events", event);
  ASSERT_TRUE(posted.ok()) << posted.error().describe();
  std::string event_name = (*posted)["metadata"]["name"];
  EXPECT_EQ(event_name.rfind(name + ".", 0), 0u);
  auto read = api->get("/api/v1/namespaces/default/events/" + event_name);
  ASSERT_TRUE(read.ok()) << read.error().describe();
  EXPECT_EQ((*read)["reason"], "IPAllocated");
  EXPECT_EQ((*read)["involvedObject"]["uid"], (*svc)["metadata"]["uid"]);
  EXPECT_EQ((*read)["source"]["component"], "kvlbd");
}

TEST(KubeLive, BadCaFailsWithAClearError) {
  LIVE_OR_FAIL(l);
  auto access = load_kubeconfig(l.kubeconfig);
  ASSERT_TRUE(access.ok()) << access.error().describe();

  Access wrong = *access;
  wrong.ca_pem = testing::make_cert("some-other-ca").cert_pem;
  auto r = make_kube_api(wrong)->get("/api/v1/services");
  ASSERT_FALSE(r.ok());
  std::printf("with a wrong CA: %s\n", r.error().describe().c_str());
  EXPECT_EQ(r.error().status, 0);
  EXPECT_NE(r.error().message.find("server certificate verification failed"), std::string::npos)
      << r.error().describe();

  Access system_store = *access;
  system_store.ca_pem.clear();  // the system store does not know the test CA
  auto s = make_kube_api(system_store)->get("/api/v1/services");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("server certificate verification failed"), std::string::npos)
      << s.error().describe();

  Access insecure = wrong;
  insecure.insecure_skip_tls_verify = true;
  auto i = make_kube_api(insecure)->get("/api/v1/services");
  EXPECT_TRUE(i.ok()) << i.error().describe();
}

// A TLS server (openssl s_server) with a certificate from the cluster CA.
class TlsServer {
 public:
  TlsServer(const Live& l, const testing::TempDir& dir, const std::string& tag, const std::string& san) {
    const std::string pki = (l.dir / "pki").string();
    const std::string key = dir.file(tag + ".key"), crt = dir.file(tag + ".crt"), csr = dir.file(tag + ".csr");
    dir.write(tag + ".ext", "subjectAltName=" + san + "\nextendedKeyUsage=serverAuth\n");
    EXPECT_TRUE(shell("openssl req -newkey rsa:2048 -nodes -keyout " + key + " -out " + csr +
                      " -subj /CN=kvlb-test-server 2>&1 && openssl x509 -req -in " + csr + " -CA " + pki +
                      "/ca.crt -CAkey " + pki + "/ca.key -CAcreateserial -CAserial " + dir.file("ca.srl") +
                      " -days 1 -extfile " + dir.file(tag + ".ext") + " -out " + crt + " 2>&1"));
    port_ = free_port();
    auto pid = shell("openssl s_server -quiet -www -accept 127.0.0.1:" + std::to_string(port_) + " -cert " + crt +
                     " -key " + key + " </dev/null >" + dir.file(tag + ".log") + " 2>&1 & echo $!");
    if (pid) pid_ = std::stoi(*pid);
    for (int i = 0; i < 100 && !accepting(); ++i) std::this_thread::sleep_for(50ms);
  }
  ~TlsServer() {
    if (pid_ > 0) kill(pid_, SIGTERM);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
  }
  bool accepting() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  }
  int port_ = 0;
  int pid_ = -1;
};

TEST(KubeLive, ServerCertificateMustNameTheIpAddress) {
  LIVE_OR_FAIL(l);
  auto access = load_kubeconfig(l.kubeconfig);
  ASSERT_TRUE(access.ok()) << access.error().describe();
  testing::TempDir dir;
  TlsServer dns_only(l, dir, "dns", "DNS:kubernetes.example");
  TlsServer with_ip(l, dir, "ip", "DNS:kubernetes.example,IP:127.0.0.1");

  Access a = *access;
  a.server = dns_only.url();
  auto refused = make_kube_api(a)->get("/");
  ASSERT_FALSE(refused.ok());
  std::printf("certificate without the IP SAN: %s\n", refused.error().describe().c_str());
  EXPECT_NE(refused.error().message.find("not valid for 127.0.0.1"), std::string::npos) << refused.error().describe();

  a.server = with_ip.url();
  auto accepted = make_kube_api(a)->get("/");
  ASSERT_FALSE(accepted.ok());  // s_server answers with HTML: the TLS handshake passed
  EXPECT_EQ(accepted.error().reason, "BadResponse") << accepted.error().describe();
}

TEST(KubeLive, InformerKeepsUpAcrossAnApiserverRestart) {
  LIVE_OR_FAIL(l);
  ClientOptions client_options;
  client_options.request_timeout = 5000ms;
  client_options.watch_idle_timeout = 30000ms;
  auto writer = api_for(l);
  const std::string ns = unique("kvlb-live");
  ASSERT_TRUE(writer->post("/api/v1/namespaces", json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}).ok());
  const std::string base = "/api/v1/namespaces/" + ns;
  ASSERT_TRUE(writer->post(base + "/services", service("before")).ok());
  ASSERT_TRUE(writer->post(base + "/configmaps", configmap("before", "1")).ok());

  // One informer on services (served by the watch cache) and one on
  // configmaps (straight from etcd), each with its own client.
  struct Running {
    std::unique_ptr<KubeApi> api;
    testing::RecordingHandler handler;
    std::stop_source stop;
    testing::Sleeper sleeper{stop.get_token()};
    SteadyClock clock;
    std::unique_ptr<Informer> informer;
    std::thread thread;
  };
  auto run = [&](Running& r, const std::string& resource) {
    r.api = api_for(l, client_options);
    InformerOptions o;
    o.list_path = base + "/" + resource;
    o.name = resource;
    o.backoff_initial = 200ms;
    o.backoff_max = 2000ms;
    r.informer = std::make_unique<Informer>(*r.api, o, r.handler, r.clock,
                                            [&r](std::chrono::milliseconds d) { r.sleeper.sleep(d); });
    r.thread = std::thread([&r] { r.informer->run(r.stop.get_token()); });
  };
  auto eventually = [](const std::function<bool()>& pred, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred();
  };
  Running svcs, cms;
  run(svcs, "services");
  run(cms, "configmaps");
  struct Stopper {
    Running& a;
    Running& b;
    ~Stopper() {
      for (Running* r : {&a, &b}) {
        r->stop.request_stop();
        if (r->thread.joinable()) r->thread.join();
      }
    }
  } stopper{svcs, cms};

  ASSERT_TRUE(eventually([&] { return svcs.informer->has_synced() && cms.informer->has_synced(); }, 10s));
  EXPECT_EQ(svcs.handler.names(), std::set<std::string>{"before"});
  EXPECT_EQ(cms.handler.names(), std::set<std::string>{"before"});
  ASSERT_TRUE(writer->post(base + "/services", service("early")).ok());
  ASSERT_TRUE(eventually([&] { return svcs.handler.names().count("early") == 1; }, 5s));

  // Down: both watches break and the informers back off (held here).
  svcs.sleeper.hold();
  cms.sleeper.hold();
  auto stopped_at = Clock::now();
  ASSERT_NO_FATAL_FAILURE(cluster(l, "apiserver-stop"));
  ASSERT_TRUE(eventually([&] { return svcs.sleeper.count() >= 1 && cms.sleeper.count() >= 1; }, 30s))
      << "the informers did not notice the apiserver going away";
  std::printf("watches broke; informers backing off %lld ms after the stop began\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped_at).count()));
  EXPECT_GE(svcs.informer->stats().errors, 1u);

  // Up again, and changed while the informers were not watching.
  ASSERT_NO_FATAL_FAILURE(cluster(l, "apiserver-start"));
  for (auto [path, body] : {std::pair{base + "/services", service("during")}, std::pair{base + "/configmaps", configmap("during", "2")}}) {
    auto r = writer->post(path, body);
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  const std::string kubectl = quoted(l.env.at("KUBECTL")) + " --kubeconfig " + quoted(l.kubeconfig) + " -n " + ns;
  ASSERT_TRUE(shell(kubectl + " delete service before early 2>&1"));
  ASSERT_TRUE(shell(kubectl + " delete configmap before 2>&1"));
  ASSERT_NO_FATAL_FAILURE(compact_etcd(l, *writer));  // so the configmaps informer's version is gone for sure
  auto released_at = Clock::now();
  svcs.sleeper.release();
  cms.sleeper.release();

  const std::set<std::string> want = {"during"};
  ASSERT_TRUE(eventually([&] { return svcs.handler.names() == want && cms.handler.names() == want; }, 20s))
      << "services: " << svcs.handler.calls().size() << " calls, configmaps: " << cms.handler.calls().size()
      << " calls; last errors: " << svcs.informer->stats().last_error << " / " << cms.informer->stats().last_error;
  std::printf("caught up %lld ms after release\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - released_at).count()));
  auto cs = cms.informer->stats();
  EXPECT_GE(cs.relists_gone, 1u) << "configmaps: expected a 410 and a relist";
  EXPECT_GE(cs.lists, 2u);
  auto ss = svcs.informer->stats();
  std::printf("services: lists=%llu relists_gone=%llu watches=%llu events=%llu errors=%llu last_error=%s\n",
              (unsigned long long)ss.lists, (unsigned long long)ss.relists_gone, (unsigned long long)ss.watches,
              (unsigned long long)ss.events, (unsigned long long)ss.errors, ss.last_error.c_str());
  std::printf("configmaps: lists=%llu relists_gone=%llu watches=%llu events=%llu errors=%llu\n",
              (unsigned long long)cs.lists, (unsigned long long)cs.relists_gone, (unsigned long long)cs.watches,
              (unsigned long long)cs.events, (unsigned long long)cs.errors);

  // And it keeps following after the reconnect.
  ASSERT_TRUE(writer->post(base + "/services", service("after")).ok());
  ASSERT_TRUE(eventually([&] { return svcs.handler.names().count("after") == 1; }, 5s));

  const auto stop_at = Clock::now();
  svcs.stop.request_stop();
  cms.stop.request_stop();
  svcs.thread.join();
  cms.thread.join();
  EXPECT_LT(Clock::now() - stop_at, 5s) << "stopping the informers took too long";
}

}  // namespace
}  // namespace kvlb::kube
