#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "k8s/translate.h"

using namespace kvlb::k8s;
using kvlb::model::IpAddress;
using json = nlohmann::json;

namespace {

// The article's tcp_fullnat Service as the API returns it, with kvlb's class.
json base_service() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "tcp-lb-fullnat", "namespace": "default", "resourceVersion": "3021",
                 "uid": "5f0e2a4c-2d5e-4c8e-9b1a-0c7d6e2f8a11", "annotations": {"kvlb.io/mode": "fullnat"}},
    "spec": {
      "type": "LoadBalancer", "loadBalancerClass": "kvlb.io/lb", "externalTrafficPolicy": "Cluster",
      "sessionAffinity": "None", "clusterIP": "10.43.118.20", "ipFamilies": ["IPv4"],
      "ports": [{"name": "tcp", "port": 56002, "protocol": "TCP", "targetPort": 8080, "nodePort": 32383}],
      "selector": {"what": "tcp-fullnat-test"}
    },
    "status": {"loadBalancer": {}}
  })");
}

Service service(const json& j) {
  auto r = parse_service(j);
  EXPECT_TRUE(r.ok()) << r.error().str();
  return r.ok() ? *r : Service{};
}

template <typename F>
Service service_with(F&& mutate) {
  json j = base_service();
  mutate(j);
  return service(j);
}

json ep(const std::string& address, const std::string& node, json conditions = json{{"ready", true}, {"serving", true}, {"terminating", false}}) {
  json e = {{"addresses", json::array({address})}, {"conditions", conditions}};
  if (!node.empty()) e["nodeName"] = node;
  return e;
}

json ready() { return {{"ready", true}, {"serving", true}, {"terminating", false}}; }
json draining() { return {{"ready", false}, {"serving", true}, {"terminating", true}}; }

EndpointSlice slice(const std::string& name, const std::string& address_type, json ports, json endpoints,
                    const std::string& service_name = "tcp-lb-fullnat", const std::string& ns = "default") {
  json j = {{"apiVersion", "discovery.k8s.io/v1"},
            {"kind", "EndpointSlice"},
            {"addressType", address_type},
            {"metadata",
             {{"name", name},
              {"namespace", ns},
              {"labels",
               {{"kubernetes.io/service-name", service_name},
                {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}}}}},
            {"ports", ports},
            {"endpoints", endpoints}};
  auto r = parse_endpoint_slice(j);
  EXPECT_TRUE(r.ok()) << r.error().str();
  return r.ok() ? *r : EndpointSlice{};
}

json tcp_port(const std::string& name, int port) { return {{"name", name}, {"port", port}, {"protocol", "TCP"}}; }

EndpointSlice v4_slice(json endpoints) {
  return slice("tcp-lb-fullnat-x7k2p", "IPv4", json::array({tcp_port("tcp", 8080)}), std::move(endpoints));
}

Node node(const std::string& name, std::vector<std::string> ips, bool is_ready = true) {
  json addresses = json::array();
  for (const auto& ip : ips) addresses.push_back({{"type", "InternalIP"}, {"address", ip}});
  addresses.push_back({{"type", "Hostname"}, {"address", name}});
  json j = {{"kind", "Node"},
            {"metadata", {{"name", name}}},
            {"status",
             {{"addresses", addresses},
              {"conditions", json::array({{{"type", "Ready"}, {"status", is_ready ? "True" : "False"}}})}}}};
  auto r = parse_node(j);
  EXPECT_TRUE(r.ok()) << r.error().str();
  return r.ok() ? *r : Node{};
}

std::vector<IpAddress> ips(std::initializer_list<const char*> texts) {
  std::vector<IpAddress> out;
  for (auto t : texts) out.push_back(*IpAddress::parse(t));
  return out;
}

// One line per virtual service: name key scheduler persistence mode [snat] endpoints.
std::vector<std::string> lines(const Translation& t) {
  std::vector<std::string> out;
  for (const auto& s : t.services) {
    std::string line = s.name + " " + s.key.str() + " " + s.scheduler + " " + std::to_string(s.persistence_seconds) +
                       " " + std::string(to_string(s.mode));
    if (s.snat_address) line += " snat=" + s.snat_address->str();
    for (const auto& e : s.endpoints) line += " " + e.ip.with_port(e.port) + "=" + std::to_string(e.weight);
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> problems(const Translation& t) {
  std::vector<std::string> out;
  for (const auto& p : t.problems) out.push_back(p.str());
  return out;
}

std::string endpoints_of(const Translation& t, std::size_t i = 0) {
  if (i >= t.services.size()) return "<no service>";
  std::string out;
  for (const auto& e : t.services[i].endpoints)
    out += (out.empty() ? "" : " ") + e.ip.with_port(e.port) + "=" + std::to_string(e.weight);
  return out;
}

const TranslateOptions kPodIp{};
TranslateOptions node_port_options() {
  TranslateOptions o;
  o.target = EndpointTarget::NodePort;
  return o;
}

}  // namespace

// --- which Services ---

TEST(K8sIsOurs, Table) {
  struct Case {
    const char* type;
    std::optional<std::string> cls;
    bool classless_allowed;
    std::string configured;
    bool ours;
  };
  const Case cases[] = {
      {"LoadBalancer", "kvlb.io/lb", false, "kvlb.io/lb", true},
      {"LoadBalancer", "kvlb.io/lb", true, "kvlb.io/lb", true},
      {"LoadBalancer", "loxilb.io/loadbalancer", false, "kvlb.io/lb", false},
      {"LoadBalancer", "loxilb.io/loadbalancer", true, "kvlb.io/lb", false},
      {"LoadBalancer", std::nullopt, false, "kvlb.io/lb", false},
      {"LoadBalancer", std::nullopt, true, "kvlb.io/lb", true},
      {"LoadBalancer", "example.com/edge", false, "example.com/edge", true},
      {"LoadBalancer", "kvlb.io/lb", false, "example.com/edge", false},
      {"LoadBalancer", "", true, "kvlb.io/lb", false},
      {"ClusterIP", "kvlb.io/lb", true, "kvlb.io/lb", false},
      {"NodePort", std::nullopt, true, "kvlb.io/lb", false},
      {"ExternalName", std::nullopt, true, "kvlb.io/lb", false},
      {"loadbalancer", "kvlb.io/lb", true, "kvlb.io/lb", false},
  };
  for (const auto& c : cases) {
    Service s = service_with([&](json& j) {
      j["spec"]["type"] = c.type;
      if (c.cls) j["spec"]["loadBalancerClass"] = *c.cls;
      else j["spec"].erase("loadBalancerClass");
    });
    ClassSelection sel{c.configured, c.classless_allowed};
    EXPECT_EQ(is_ours(s, sel), c.ours) << c.type << " " << c.cls.value_or("<none>") << " classless=" << c.classless_allowed
                                       << " configured=" << c.configured;
  }
}

TEST(K8sIsOurs, DefaultClassIsKvlb) {
  ClassSelection sel;
  EXPECT_EQ(sel.load_balancer_class, "kvlb.io/lb");
  EXPECT_FALSE(sel.include_classless);
  EXPECT_TRUE(is_ours(service(base_service()), sel));
}

// --- translation ---

TEST(K8sTranslate, TheArticlesTcpFullnatService) {
  auto t = translate(service(base_service()), {v4_slice(json::array({ep("10.42.1.5", "worker1")}))}, {},
                     ips({"20.20.20.1"}), kPodIp);
  EXPECT_TRUE(t.problems.empty()) << ::testing::PrintToString(problems(t));
  EXPECT_EQ(lines(t), std::vector<std::string>{"default/tcp-lb-fullnat:tcp 20.20.20.1:56002/tcp rr 0 fullnat 10.42.1.5:8080=1"});
}

TEST(K8sTranslate, OneServicePerPortPerAssignedIpNamedByPortNameOrNumber) {
  Service s = service_with([](json& j) {
    j["spec"]["ports"] = json::array({
        {{"name", "tcp"}, {"port", 56002}, {"protocol", "TCP"}, {"targetPort", 8080}},
        {{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 5353}},
        {{"port", 56004}, {"protocol", "SCTP"}, {"targetPort", 9999}},
    });
  });
  auto t = translate(s, {}, {}, ips({"20.20.20.2", "20.20.20.1"}), kPodIp);
  EXPECT_TRUE(t.problems.empty()) << ::testing::PrintToString(problems(t));
  EXPECT_EQ(lines(t), (std::vector<std::string>{
                          "default/tcp-lb-fullnat:dns 20.20.20.1:53/udp rr 0 fullnat",
                          "default/tcp-lb-fullnat:tcp 20.20.20.1:56002/tcp rr 0 fullnat",
                          "default/tcp-lb-fullnat:56004 20.20.20.1:56004/sctp rr 0 fullnat",
                          "default/tcp-lb-fullnat:dns 20.20.20.2:53/udp rr 0 fullnat",
                          "default/tcp-lb-fullnat:tcp 20.20.20.2:56002/tcp rr 0 fullnat",
                          "default/tcp-lb-fullnat:56004 20.20.20.2:56004/sctp rr 0 fullnat",
                      }));
}

TEST(K8sTranslate, NoAssignedIpNoServices) {
  auto t = translate(service(base_service()), {}, {}, {}, kPodIp);
  EXPECT_TRUE(t.services.empty());
  EXPECT_TRUE(t.problems.empty());
}

TEST(K8sTranslate, UnusableAssignedIpIsAProblem) {
  auto t = translate(service(base_service()), {}, {}, ips({"0.0.0.0", "20.20.20.1", "224.0.0.1"}), kPodIp);
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_EQ(problems(t), (std::vector<std::string>{
                             "default/tcp-lb-fullnat: assigned IP: \"0.0.0.0\" is not a usable unicast address",
                             "default/tcp-lb-fullnat: assigned IP: \"224.0.0.1\" is not a usable unicast address",
                         }));
}

TEST(K8sTranslate, SessionAffinityTable) {
  struct Case {
    const char* affinity;
    json timeout;  // null = absent
    uint32_t persistence;
    const char* problem;
  };
  const Case cases[] = {
      {"None", nullptr, 0, nullptr},
      {"ClientIP", nullptr, 10800, nullptr},
      {"ClientIP", 600, 600, nullptr},
      {"ClientIP", 86400, 86400, nullptr},
      {"None", 600, 0, nullptr},
      {"ClientIP", 0, 10800,
       "default/tcp-lb-fullnat: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is out of range (1-86400); using 10800"},
      {"ClientIP", 86401, 10800,
       "default/tcp-lb-fullnat: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 86401 is out of range (1-86400); using 10800"},
      {"Sticky", nullptr, 0, "default/tcp-lb-fullnat: spec.sessionAffinity: unknown value \"Sticky\" (None, ClientIP)"},
  };
  for (const auto& c : cases) {
    Service s = service_with([&](json& j) {
      j["spec"]["sessionAffinity"] = c.affinity;
      if (!c.timeout.is_null()) j["spec"]["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", c.timeout}}}};
    });
    auto t = translate(s, {}, {}, ips({"20.20.20.1"}), kPodIp);
    ASSERT_EQ(t.services.size(), 1u) << c.affinity << " " << c.timeout;
    EXPECT_EQ(t.services[0].persistence_seconds, c.persistence) << c.affinity << " " << c.timeout;
    EXPECT_EQ(problems(t), c.problem ? std::vector<std::string>{c.problem} : std::vector<std::string>{})
        << c.affinity << " " << c.timeout;
  }
}

TEST(K8sTranslate, ModeAnnotationTable) {
  struct Case {
    std::optional<std::string> value;
    kvlb::model::NatMode mode;
    const char* problem;
  };
  const Case cases[] = {
      {std::nullopt, kvlb::model::NatMode::Default, nullptr},
      {"default", kvlb::model::NatMode::Default, nullptr},
      {"onearm", kvlb::model::NatMode::OneArm, nullptr},
      {"fullnat", kvlb::model::NatMode::FullNat, nullptr},
      {"dsr", kvlb::model::NatMode::Default,
       "default/tcp-lb-fullnat: annotation kvlb.io/mode: unknown value \"dsr\" (default, onearm, fullnat)"},
      {"FullNAT", kvlb::model::NatMode::Default,
       "default/tcp-lb-fullnat: annotation kvlb.io/mode: unknown value \"FullNAT\" (default, onearm, fullnat)"},
      {"", kvlb::model::NatMode::Default,
       "default/tcp-lb-fullnat: annotation kvlb.io/mode: unknown value \"\" (default, onearm, fullnat)"},
  };
  for (const auto& c : cases) {
    Service s = service_with([&](json& j) {
      if (c.value) j["metadata"]["annotations"]["kvlb.io/mode"] = *c.value;
      else j["metadata"]["annotations"].erase("kvlb.io/mode");
    });
    auto t = translate(s, {}, {}, ips({"20.20.20.1"}), kPodIp);
    ASSERT_EQ(t.services.size(), 1u) << c.value.value_or("<none>");
    EXPECT_EQ(t.services[0].mode, c.mode) << c.value.value_or("<none>");
    EXPECT_EQ(problems(t), c.problem ? std::vector<std::string>{c.problem} : std::vector<std::string>{})
        << c.value.value_or("<none>");
  }
}

TEST(K8sTranslate, SchedulerAnnotationTable) {
  for (const auto& name : kvlb::model::known_schedulers()) {
    Service s = service_with([&](json& j) { j["metadata"]["annotations"]["kvlb.io/scheduler"] = name; });
    auto t = translate(s, {}, {}, ips({"20.20.20.1"}), kPodIp);
    ASSERT_EQ(t.services.size(), 1u);
    EXPECT_EQ(t.services[0].scheduler, name);
    EXPECT_TRUE(t.problems.empty()) << name;
  }
  Service s = service_with([](json& j) { j["metadata"]["annotations"]["kvlb.io/scheduler"] = "roundrobin"; });
  auto t = translate(s, {}, {}, ips({"20.20.20.1"}), kPodIp);
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_EQ(t.services[0].scheduler, "rr");
  EXPECT_EQ(problems(t), std::vector<std::string>{
                             "default/tcp-lb-fullnat: annotation kvlb.io/scheduler: unknown value \"roundrobin\" "
                             "(rr, wrr, lc, wlc, sh, mh, sed, nq, dh, lblc, lblcr, fo, ovf, twos)"});
}

TEST(K8sTranslate, InstanceAnnotationTable) {
  struct Case {
    std::vector<std::string> instances;  // configured; empty = no HA
    const char* annotation;              // nullptr = absent
    const char* expected;
    std::vector<std::string> problems;
  };
  const std::string field = "default/tcp-lb-fullnat: annotation kvlb.io/instance: ";
  const Case cases[] = {
      {{}, nullptr, "default", {}},
      {{}, "blue", "default", {field + "HA is not configured on this node; ignored"}},
      {{"blue", "default"}, nullptr, "default", {}},
      {{"blue", "green"}, nullptr, "blue", {}},
      {{"blue", "green"}, "green", "green", {}},
      {{"blue", "green"}, "red", "blue", {field + "unknown instance \"red\" (blue, green); using \"blue\""}},
  };
  for (const auto& c : cases) {
    Service s = service_with([&](json& j) {
      if (c.annotation) j["metadata"]["annotations"]["kvlb.io/instance"] = c.annotation;
    });
    auto options = kPodIp;
    options.instances = c.instances;
    auto t = translate(s, {}, {}, ips({"20.20.20.1"}), options);
    ASSERT_EQ(t.services.size(), 1u);
    EXPECT_EQ(t.services[0].instance, c.expected) << (c.annotation ? c.annotation : "-");
    EXPECT_EQ(problems(t), c.problems) << (c.annotation ? c.annotation : "-");
  }
}

TEST(K8sTranslate, SnatAddressAnnotationTable) {
  struct Case {
    const char* mode;
    const char* snat;
    std::vector<const char*> vips;
    std::vector<std::string> expected;  // snat per service, "" = none
    std::vector<std::string> problems;
  };
  const std::string svc = "default/tcp-lb-fullnat: annotation kvlb.io/snat-address: ";
  const Case cases[] = {
      {"fullnat", "20.20.20.9", {"20.20.20.1"}, {"20.20.20.9"}, {}},
      {"onearm", "192.168.80.9", {"20.20.20.1"}, {"192.168.80.9"}, {}},
      {"default", "20.20.20.9", {"20.20.20.1"}, {""}, {svc + "only valid with kvlb.io/mode onearm or fullnat"}},
      {"fullnat", "20.20.20.300", {"20.20.20.1"}, {""}, {svc + "\"20.20.20.300\" is not an IP address"}},
      {"fullnat", "0.0.0.0", {"20.20.20.1"}, {""}, {svc + "\"0.0.0.0\" is not a usable unicast address"}},
      {"fullnat",
       "fd00:20::9",
       {"20.20.20.1", "fd00:20::1"},
       {"", "fd00:20::9"},
       {svc + "\"fd00:20::9\" is not of the same address family as 20.20.20.1; not used for it"}},
  };
  for (const auto& c : cases) {
    Service s = service_with([&](json& j) {
      j["metadata"]["annotations"]["kvlb.io/mode"] = c.mode;
      j["metadata"]["annotations"]["kvlb.io/snat-address"] = c.snat;
    });
    std::vector<IpAddress> vips;
    for (auto v : c.vips) vips.push_back(*IpAddress::parse(v));
    auto t = translate(s, {}, {}, vips, kPodIp);
    ASSERT_EQ(t.services.size(), c.expected.size()) << c.snat;
    for (std::size_t i = 0; i < c.expected.size(); ++i)
      EXPECT_EQ(t.services[i].snat_address ? t.services[i].snat_address->str() : "", c.expected[i]) << c.snat;
    EXPECT_EQ(problems(t), c.problems) << c.mode << " " << c.snat;
  }
}

TEST(K8sTranslate, ProtocolTable) {
  struct Case {
    const char* protocol;
    const char* key;
  };
  const Case cases[] = {{"TCP", "20.20.20.1:56002/tcp"}, {"UDP", "20.20.20.1:56002/udp"}, {"SCTP", "20.20.20.1:56002/sctp"}};
  for (const auto& c : cases) {
    Service s = service_with([&](json& j) { j["spec"]["ports"][0]["protocol"] = c.protocol; });
    auto t = translate(s, {}, {}, ips({"20.20.20.1"}), kPodIp);
    ASSERT_EQ(t.services.size(), 1u);
    EXPECT_EQ(t.services[0].key.str(), c.key);
  }
  Service s = service_with([](json& j) { j["spec"]["ports"][0]["protocol"] = "tcp"; });
  auto t = translate(s, {}, {}, ips({"20.20.20.1"}), kPodIp);
  EXPECT_TRUE(t.services.empty());
  EXPECT_EQ(problems(t), std::vector<std::string>{
                             "default/tcp-lb-fullnat: spec.ports[0].protocol: unknown value \"tcp\" (TCP, UDP, SCTP)"});
}

TEST(K8sTranslate, EndpointConditionsTable) {
  struct Case {
    json conditions;
    const char* expected;  // endpoint list, "" = absent
  };
  const Case cases[] = {
      {ready(), "10.42.1.5:8080=1"},
      {draining(), "10.42.1.5:8080=0"},
      {{{"ready", false}, {"serving", false}, {"terminating", true}}, ""},
      {{{"ready", false}, {"serving", false}, {"terminating", false}}, ""},
      {{{"ready", false}, {"serving", true}, {"terminating", false}}, ""},
      {{{"ready", false}}, ""},
      {json::object(), "10.42.1.5:8080=1"},  // unknown reads as ready
      {{{"ready", true}, {"serving", true}, {"terminating", true}}, "10.42.1.5:8080=0"},
      {{{"ready", false}, {"terminating", true}}, ""},  // serving unknown reads as ready (false)
  };
  for (const auto& c : cases) {
    auto t = translate(service(base_service()), {v4_slice(json::array({ep("10.42.1.5", "worker1", c.conditions)}))}, {},
                       ips({"20.20.20.1"}), kPodIp);
    EXPECT_EQ(endpoints_of(t), c.expected) << c.conditions;
    EXPECT_TRUE(t.problems.empty());
  }
}

TEST(K8sTranslate, ReadyAndDrainedAndAbsentTogether) {
  auto t = translate(service(base_service()),
                     {v4_slice(json::array({ep("10.42.1.5", "worker1"), ep("10.42.2.7", "worker2", draining()),
                                            ep("10.42.2.8", "worker2", {{"ready", false}, {"serving", false}, {"terminating", true}}),
                                            ep("10.42.3.9", "worker3")}))},
                     {}, ips({"20.20.20.1"}), kPodIp);
  EXPECT_EQ(endpoints_of(t), "10.42.1.5:8080=1 10.42.2.7:8080=0 10.42.3.9:8080=1");
}

TEST(K8sTranslate, TargetPortResolution) {
  struct Case {
    const char* label;
    json service_ports;
    json slice_ports;
    std::vector<std::string> expected;  // endpoints per service, in key order
  };
  const Case cases[] = {
      {"by name, numeric targetPort",
       json::array({{{"name", "tcp"}, {"port", 56002}, {"protocol", "TCP"}, {"targetPort", 8080}}}),
       json::array({tcp_port("tcp", 8080)}),
       {"10.42.1.5:8080=1"}},
      {"named targetPort resolved by the controller",
       json::array({{{"name", "web"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", "http"}},
                    {{"name", "admin"}, {"port", 81}, {"protocol", "TCP"}, {"targetPort", "mgmt"}}}),
       json::array({tcp_port("admin", 9090), tcp_port("web", 8080)}),
       {"10.42.1.5:8080=1", "10.42.1.5:9090=1"}},
      {"unnamed single port", json::array({{{"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}),
       json::array({tcp_port("", 8080)}), {"10.42.1.5:8080=1"}},
      {"no targetPort: same as port", json::array({{{"name", "x"}, {"port", 80}, {"protocol", "TCP"}}}),
       json::array({tcp_port("y", 80)}), {"10.42.1.5:80=1"}},
      {"numeric fallback when names differ",
       json::array({{{"name", "a"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}),
       json::array({tcp_port("b", 8080)}), {"10.42.1.5:8080=1"}},
      {"named targetPort with no matching slice port",
       json::array({{{"name", "a"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", "http"}}}),
       json::array({tcp_port("b", 8080)}), {""}},
      {"protocol must match",
       json::array({{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 53}}}),
       json::array({tcp_port("dns", 53)}), {""}},
      {"slice port without number",
       json::array({{{"name", "tcp"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}),
       json::array({{{"name", "tcp"}, {"protocol", "TCP"}}}), {""}},
  };
  for (const auto& c : cases) {
    Service s = service_with([&](json& j) { j["spec"]["ports"] = c.service_ports; });
    auto sl = slice("tcp-lb-fullnat-x7k2p", "IPv4", c.slice_ports, json::array({ep("10.42.1.5", "worker1")}));
    auto t = translate(s, {sl}, {}, ips({"20.20.20.1"}), kPodIp);
    ASSERT_EQ(t.services.size(), c.expected.size()) << c.label;
    for (std::size_t i = 0; i < c.expected.size(); ++i) EXPECT_EQ(endpoints_of(t, i), c.expected[i]) << c.label;
    EXPECT_TRUE(t.problems.empty()) << c.label;
  }
}

TEST(K8sTranslate, OnlyTheServicesOwnSlicesOfTheVipsFamily) {
  auto t = translate(
      service(base_service()),
      {
          v4_slice(json::array({ep("10.42.1.5", "worker1")})),
          slice("tcp-lb-fullnat-v6abc", "IPv6", json::array({tcp_port("tcp", 8080)}), json::array({ep("fd00:42::5", "worker1")})),
          slice("tcp-lb-fullnat-fqdn", "FQDN", json::array({tcp_port("tcp", 8080)}), json::array({ep("pod.example", "worker1")})),
          slice("other-abcde", "IPv4", json::array({tcp_port("tcp", 8080)}), json::array({ep("10.42.9.9", "worker1")}), "other"),
          slice("tcp-lb-fullnat-zzzzz", "IPv4", json::array({tcp_port("tcp", 8080)}), json::array({ep("10.42.8.8", "worker1")}),
                "tcp-lb-fullnat", "staging"),
      },
      {}, ips({"20.20.20.1"}), kPodIp);
  EXPECT_EQ(endpoints_of(t), "10.42.1.5:8080=1");
  EXPECT_TRUE(t.problems.empty()) << ::testing::PrintToString(problems(t));
}

TEST(K8sTranslate, DualStackVipsEachTakeTheirFamily) {
  auto t = translate(
      service(base_service()),
      {v4_slice(json::array({ep("10.42.1.5", "worker1")})),
       slice("tcp-lb-fullnat-v6abc", "IPv6", json::array({tcp_port("tcp", 8080)}), json::array({ep("fd00:42::5", "worker1")}))},
      {}, ips({"fd00:20::1", "20.20.20.1"}), kPodIp);
  EXPECT_EQ(lines(t), (std::vector<std::string>{
                          "default/tcp-lb-fullnat:tcp 20.20.20.1:56002/tcp rr 0 fullnat 10.42.1.5:8080=1",
                          "default/tcp-lb-fullnat:tcp [fd00:20::1]:56002/tcp rr 0 fullnat [fd00:42::5]:8080=1",
                      }));
}

TEST(K8sTranslate, UnusableEndpointAddressesAreProblemsTheRestStays) {
  auto t = translate(service(base_service()),
                     {v4_slice(json::array({ep("10.42.1.999", "worker1"), ep("127.0.0.1", "worker1"),
                                            ep("fd00:42::5", "worker1"), ep("10.42.1.5", "worker1"),
                                            json{{"addresses", json::array()}, {"conditions", ready()}}}))},
                     {}, ips({"20.20.20.1"}), kPodIp);
  EXPECT_EQ(endpoints_of(t), "10.42.1.5:8080=1");
  const std::string where = "default/tcp-lb-fullnat: EndpointSlice tcp-lb-fullnat-x7k2p ";
  EXPECT_EQ(problems(t), (std::vector<std::string>{
                             where + "endpoints[0]: \"10.42.1.999\" is not an IP address",
                             where + "endpoints[1]: \"127.0.0.1\" is not a usable unicast address",
                             where + "endpoints[2]: \"fd00:42::5\" does not match addressType IPv4",
                             where + "endpoints[4]: no addresses",
                         }));
}

TEST(K8sTranslate, FirstAddressOfAnEndpointAndDuplicatesAcrossSlices) {
  auto t = translate(service(base_service()),
                     {v4_slice(json::array({json{{"addresses", json::array({"10.42.1.5", "10.42.1.6"})}, {"conditions", ready()}},
                                            ep("10.42.2.7", "worker2", draining())})),
                      slice("tcp-lb-fullnat-b", "IPv4", json::array({tcp_port("tcp", 8080)}),
                            json::array({ep("10.42.2.7", "worker2"), ep("10.42.1.5", "worker1", draining())}))},
                     {}, ips({"20.20.20.1"}), kPodIp);
  // A ready copy wins over a draining one of the same endpoint.
  EXPECT_EQ(endpoints_of(t), "10.42.1.5:8080=1 10.42.2.7:8080=1");
}

TEST(K8sTranslate, PortProblemsTheRestTranslates) {
  Service s = service_with([](json& j) {
    j["spec"]["ports"] = json::array({
        {{"name", "zero"}, {"port", 0}, {"protocol", "TCP"}},
        {{"name", "big"}, {"port", 65536}, {"protocol", "TCP"}},
        {{"name", "neg"}, {"port", -1}, {"protocol", "TCP"}},
        {{"name", "tcp"}, {"port", 56002}, {"protocol", "TCP"}, {"targetPort", 8080}},
        {{"name", "again"}, {"port", 56002}, {"protocol", "TCP"}},
        {{"name", "udp"}, {"port", 56002}, {"protocol", "UDP"}},
        {{"name", "max"}, {"port", 65535}, {"protocol", "SCTP"}},
    });
  });
  auto t = translate(s, {v4_slice(json::array({ep("10.42.1.5", "worker1")}))}, {}, ips({"20.20.20.1"}), kPodIp);
  EXPECT_EQ(lines(t), (std::vector<std::string>{
                          "default/tcp-lb-fullnat:tcp 20.20.20.1:56002/tcp rr 0 fullnat 10.42.1.5:8080=1",
                          "default/tcp-lb-fullnat:udp 20.20.20.1:56002/udp rr 0 fullnat",
                          "default/tcp-lb-fullnat:max 20.20.20.1:65535/sctp rr 0 fullnat",
                      }));
  EXPECT_EQ(problems(t), (std::vector<std::string>{
                             "default/tcp-lb-fullnat: spec.ports[0].port: 0 is out of range (1-65535)",
                             "default/tcp-lb-fullnat: spec.ports[1].port: 65536 is out of range (1-65535)",
                             "default/tcp-lb-fullnat: spec.ports[2].port: -1 is out of range (1-65535)",
                             "default/tcp-lb-fullnat: spec.ports[4]: duplicate port 56002/TCP",
                         }));
}

TEST(K8sTranslate, FiveThousandPortsAreCappedAtTheLimit) {
  json j = base_service();
  j["spec"]["ports"] = json::array();
  for (int i = 0; i < 5000; ++i) j["spec"]["ports"].push_back({{"name", "p" + std::to_string(i)}, {"port", 10000 + i}, {"protocol", "TCP"}});
  Service s = service(j);
  auto t = translate(s, {}, {}, ips({"20.20.20.1"}), kPodIp);
  EXPECT_EQ(t.services.size(), 100u);
  EXPECT_EQ(t.services.back().key.port, 10099);
  EXPECT_EQ(problems(t), std::vector<std::string>{
                             "default/tcp-lb-fullnat: spec.ports: 5000 ports, more than the limit of 100; only the first 100 are used"});
  TranslateOptions small;
  small.max_ports_per_service = 3;
  t = translate(s, {}, {}, ips({"20.20.20.1"}), small);
  EXPECT_EQ(t.services.size(), 3u);
  EXPECT_EQ(problems(t), std::vector<std::string>{
                             "default/tcp-lb-fullnat: spec.ports: 5000 ports, more than the limit of 3; only the first 3 are used"});
}

// --- NodePort targets ---

namespace {
std::vector<Node> cluster_nodes() {
  return {
      node("worker1", {"192.168.80.101", "fd00:80::101"}),
      node("worker2", {"192.168.80.102"}),
      node("worker3", {"192.168.80.103"}, /*ready=*/false),
      node("worker4", {"fd00:80::104"}),
      node("worker5", {"192.168.80.105"}),
  };
}
}  // namespace

TEST(K8sTranslateNodePort, ClusterPolicyTakesAllReadyNodesOfTheFamily) {
  auto t = translate(service(base_service()), {v4_slice(json::array({ep("10.42.1.5", "worker1")}))}, cluster_nodes(),
                     ips({"20.20.20.1", "fd00:20::1"}), node_port_options());
  EXPECT_EQ(lines(t), (std::vector<std::string>{
                          "default/tcp-lb-fullnat:tcp 20.20.20.1:56002/tcp rr 0 fullnat 192.168.80.101:32383=1 "
                          "192.168.80.102:32383=1 192.168.80.105:32383=1",
                          "default/tcp-lb-fullnat:tcp [fd00:20::1]:56002/tcp rr 0 fullnat [fd00:80::101]:32383=1 "
                          "[fd00:80::104]:32383=1",
                      }));
  EXPECT_TRUE(t.problems.empty()) << ::testing::PrintToString(problems(t));
}

TEST(K8sTranslateNodePort, LocalPolicyTakesOnlyNodesHostingAnEndpoint) {
  Service s = service_with([](json& j) { j["spec"]["externalTrafficPolicy"] = "Local"; });
  auto slices = std::vector<EndpointSlice>{
      v4_slice(json::array({ep("10.42.1.5", "worker1"), ep("10.42.2.7", "worker2", draining()),
                            ep("10.42.3.9", "worker3"),  // node not ready
                            ep("10.42.5.1", "worker5", {{"ready", false}, {"serving", false}, {"terminating", false}}),
                            ep("10.42.6.1", "")}))};
  auto t = translate(s, slices, cluster_nodes(), ips({"20.20.20.1"}), node_port_options());
  EXPECT_EQ(endpoints_of(t), "192.168.80.101:32383=1 192.168.80.102:32383=0");
  EXPECT_TRUE(t.problems.empty()) << ::testing::PrintToString(problems(t));
}

TEST(K8sTranslateNodePort, LocalWithNoEndpointsHasNoTargets) {
  Service s = service_with([](json& j) { j["spec"]["externalTrafficPolicy"] = "Local"; });
  auto t = translate(s, {}, cluster_nodes(), ips({"20.20.20.1"}), node_port_options());
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_TRUE(t.services[0].endpoints.empty());
}

TEST(K8sTranslateNodePort, PodIpTargetsIgnoreNodes) {
  auto t = translate(service(base_service()), {v4_slice(json::array({ep("10.42.1.5", "worker1")}))}, cluster_nodes(),
                     ips({"20.20.20.1"}), kPodIp);
  EXPECT_EQ(endpoints_of(t), "10.42.1.5:8080=1");
}

TEST(K8sTranslateNodePort, MissingNodePortIsAProblem) {
  Service s = service_with([](json& j) {
    j["spec"]["allocateLoadBalancerNodePorts"] = false;
    j["spec"]["ports"][0].erase("nodePort");
    j["spec"]["ports"].push_back({{"name", "other"}, {"port", 56003}, {"protocol", "TCP"}, {"nodePort", 31108}});
  });
  auto t = translate(s, {}, cluster_nodes(), ips({"20.20.20.1"}), node_port_options());
  EXPECT_EQ(lines(t), std::vector<std::string>{"default/tcp-lb-fullnat:other 20.20.20.1:56003/tcp rr 0 fullnat "
                                               "192.168.80.101:31108=1 192.168.80.102:31108=1 192.168.80.105:31108=1"});
  EXPECT_EQ(problems(t), std::vector<std::string>{
                             "default/tcp-lb-fullnat: spec.ports[0].nodePort: not allocated; needed for NodePort targets"});
  // With pod IP targets a missing nodePort does not matter.
  EXPECT_TRUE(translate(s, {}, cluster_nodes(), ips({"20.20.20.1"}), kPodIp).problems.empty());
}

TEST(K8sTranslateNodePort, BadNodeAddressesAreProblems) {
  std::vector<Node> nodes = {node("worker1", {"192.168.80.300", "192.168.80.101"}), node("worker2", {"0.0.0.0"})};
  auto t = translate(service(base_service()), {}, nodes, ips({"20.20.20.1"}), node_port_options());
  EXPECT_EQ(endpoints_of(t), "192.168.80.101:32383=1");
  EXPECT_EQ(problems(t), (std::vector<std::string>{
                             "default/tcp-lb-fullnat: node worker1 InternalIP: \"192.168.80.300\" is not an IP address",
                             "default/tcp-lb-fullnat: node worker2 InternalIP: \"0.0.0.0\" is not a usable unicast address",
                         }));
}

// --- determinism ---

TEST(K8sTranslate, OutputDoesNotDependOnInputOrder) {
  Service s = service_with([](json& j) {
    j["metadata"]["annotations"]["kvlb.io/mode"] = "dsr";
    j["spec"]["externalTrafficPolicy"] = "Local";
    j["spec"]["ports"] = json::array({
        {{"name", "b"}, {"port", 81}, {"protocol", "TCP"}, {"nodePort", 30081}},
        {{"name", "a"}, {"port", 80}, {"protocol", "TCP"}, {"nodePort", 30080}},
        {{"name", "z"}, {"port", 0}, {"protocol", "TCP"}},
    });
  });
  std::vector<EndpointSlice> slices = {
      slice("s1", "IPv4", json::array({tcp_port("a", 8080), tcp_port("b", 8081)}),
            json::array({ep("10.42.2.7", "worker2"), ep("10.42.1.5", "worker1"), ep("bad", "worker1")})),
      slice("s2", "IPv4", json::array({tcp_port("a", 8080), tcp_port("b", 8081)}),
            json::array({ep("10.42.0.3", "worker5", draining()), ep("10.42.9.1", "worker2"), ep("also-bad", "worker2")})),
  };
  std::vector<Node> nodes = cluster_nodes();
  auto vips = ips({"20.20.20.2", "20.20.20.1"});
  for (auto target : {EndpointTarget::PodIP, EndpointTarget::NodePort}) {
    TranslateOptions o;
    o.target = target;
    auto first = translate(s, slices, nodes, vips, o);
    EXPECT_EQ(first.services.size(), 4u);
    EXPECT_TRUE(std::is_sorted(first.services.begin(), first.services.end(),
                               [](const auto& a, const auto& b) { return a.key < b.key; }));
    for (const auto& svc : first.services)
      EXPECT_TRUE(std::is_sorted(svc.endpoints.begin(), svc.endpoints.end(),
                                 [](const auto& a, const auto& b) { return std::tie(a.ip, a.port) < std::tie(b.ip, b.port); }));
    for (int round = 0; round < 4; ++round) {
      std::reverse(slices.begin(), slices.end());
      std::rotate(nodes.begin(), nodes.begin() + 1, nodes.end());
      std::reverse(vips.begin(), vips.end());
      auto again = translate(s, slices, nodes, vips, o);
      EXPECT_EQ(lines(again), lines(first));
      EXPECT_EQ(problems(again), problems(first));
      // Endpoint order within a slice does not matter either (problems name
      // endpoints by index, so only the services are compared).
      auto shuffled = slices;
      for (auto& sl : shuffled) std::reverse(sl.endpoints.begin(), sl.endpoints.end());
      EXPECT_EQ(lines(translate(s, shuffled, nodes, vips, o)), lines(first));
    }
  }
}

TEST(K8sTranslate, ProblemsAreReportedOnce) {
  // The same bad endpoint serves two ports and two VIPs; it is one problem.
  Service s = service_with([](json& j) {
    j["spec"]["ports"] = json::array({{{"name", "a"}, {"port", 80}, {"protocol", "TCP"}},
                                      {{"name", "b"}, {"port", 81}, {"protocol", "TCP"}}});
  });
  auto sl = slice("s1", "IPv4", json::array({tcp_port("a", 8080), tcp_port("b", 8081)}), json::array({ep("bad", "worker1")}));
  auto t = translate(s, {sl}, {}, ips({"20.20.20.1", "20.20.20.2"}), kPodIp);
  EXPECT_EQ(t.services.size(), 4u);
  EXPECT_EQ(problems(t), std::vector<std::string>{
                             "default/tcp-lb-fullnat: EndpointSlice s1 endpoints[0]: \"bad\" is not an IP address"});
}
