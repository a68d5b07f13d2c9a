#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "k8s/objects.h"

using kvlb::k8s::parse_endpoint_slice;
using kvlb::k8s::parse_endpoint_slice_text;
using kvlb::k8s::parse_node;
using kvlb::k8s::parse_node_text;
using kvlb::k8s::parse_service;
using kvlb::k8s::parse_service_text;
using json = nlohmann::json;

namespace {

// As `kubectl get svc tcp-lb-fullnat -o json` returns it (the article's
// tcp_fullnat Service, with kvlb's class and annotation).
const char* kTcpFullnat = R"({
  "apiVersion": "v1",
  "kind": "Service",
  "metadata": {
    "annotations": {
      "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\",\"kind\":\"Service\"}\n",
      "kvlb.io/mode": "fullnat"
    },
    "creationTimestamp": "2024-03-01T07:50:32Z",
    "name": "tcp-lb-fullnat",
    "namespace": "default",
    "resourceVersion": "3021",
    "uid": "5f0e2a4c-2d5e-4c8e-9b1a-0c7d6e2f8a11"
  },
  "spec": {
    "allocateLoadBalancerNodePorts": true,
    "clusterIP": "10.43.118.20",
    "clusterIPs": ["10.43.118.20"],
    "externalTrafficPolicy": "Local",
    "internalTrafficPolicy": "Cluster",
    "ipFamilies": ["IPv4"],
    "ipFamilyPolicy": "SingleStack",
    "loadBalancerClass": "kvlb.io/lb",
    "ports": [
      {"name": "tcp", "nodePort": 32383, "port": 56002, "protocol": "TCP", "targetPort": 8080},
      {"nodePort": 30081, "port": 56012, "protocol": "TCP", "targetPort": "http"}
    ],
    "selector": {"what": "tcp-fullnat-test"},
    "sessionAffinity": "ClientIP",
    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
    "type": "LoadBalancer"
  },
  "status": {"loadBalancer": {"ingress": [{"ip": "20.20.20.1", "ipMode": "VIP"}, {"hostname": "lb.example"}]}}
})";

const char* kSlice = R"({
  "addressType": "IPv4",
  "apiVersion": "discovery.k8s.io/v1",
  "endpoints": [
    {"addresses": ["10.42.1.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
     "nodeName": "worker1", "targetRef": {"kind": "Pod", "name": "tcp-fullnat-test", "namespace": "default"}},
    {"addresses": ["10.42.2.7"], "conditions": {"ready": false, "serving": true, "terminating": true},
     "nodeName": "worker2"},
    {"addresses": ["10.42.2.8"], "conditions": {}}
  ],
  "kind": "EndpointSlice",
  "metadata": {
    "generateName": "tcp-lb-fullnat-",
    "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
               "kubernetes.io/service-name": "tcp-lb-fullnat"},
    "name": "tcp-lb-fullnat-x7k2p",
    "namespace": "default",
    "resourceVersion": "3044"
  },
  "ports": [{"name": "tcp", "port": 8080, "protocol": "TCP"}, {"name": "", "port": 80, "protocol": "TCP"}]
})";

const char* kNode = R"({
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {"name": "worker1", "labels": {"kubernetes.io/hostname": "worker1"}},
  "spec": {"podCIDR": "10.42.1.0/24"},
  "status": {
    "addresses": [
      {"address": "192.168.80.101", "type": "InternalIP"},
      {"address": "fd00:80::101", "type": "InternalIP"},
      {"address": "worker1", "type": "Hostname"},
      {"address": "203.0.113.7", "type": "ExternalIP"}
    ],
    "conditions": [
      {"type": "MemoryPressure", "status": "False"},
      {"type": "Ready", "status": "True", "reason": "KubeletReady"}
    ]
  }
})";

json service_json() { return json::parse(kTcpFullnat); }
json slice_json() { return json::parse(kSlice); }

std::string service_error(const json& j) {
  auto r = parse_service(j);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().str();
}

std::string slice_error(const json& j) {
  auto r = parse_endpoint_slice(j);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().str();
}

}  // namespace

TEST(K8sParseService, ReadsEveryField) {
  auto r = parse_service_text(kTcpFullnat);
  ASSERT_TRUE(r.ok()) << r.error().str();
  const auto& s = *r;
  EXPECT_EQ(s.namespace_, "default");
  EXPECT_EQ(s.name, "tcp-lb-fullnat");
  EXPECT_EQ(s.id(), "default/tcp-lb-fullnat");
  EXPECT_EQ(s.uid, "5f0e2a4c-2d5e-4c8e-9b1a-0c7d6e2f8a11");
  EXPECT_EQ(s.resource_version, "3021");
  EXPECT_EQ(s.type, "LoadBalancer");
  ASSERT_TRUE(s.load_balancer_class);
  EXPECT_EQ(*s.load_balancer_class, "kvlb.io/lb");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].name, "tcp");
  EXPECT_EQ(s.ports[0].protocol, "TCP");
  EXPECT_EQ(s.ports[0].port, 56002);
  EXPECT_EQ(s.ports[0].node_port, 32383);
  EXPECT_EQ(s.ports[0].target_port.number, 8080);
  EXPECT_EQ(s.ports[1].name, "");
  EXPECT_EQ(s.ports[1].target_port.name, "http");
  EXPECT_FALSE(s.ports[1].target_port.number);
  EXPECT_EQ(s.session_affinity, "ClientIP");
  EXPECT_EQ(s.client_ip_timeout_seconds, 600);
  EXPECT_EQ(s.external_traffic_policy, "Local");
  EXPECT_EQ(s.annotations.at("kvlb.io/mode"), "fullnat");
  ASSERT_EQ(s.ingress.size(), 2u);  // the hostname entry is kept (with no IP): status is compared as written
  EXPECT_EQ(s.ingress[0].ip, "20.20.20.1");
  EXPECT_EQ(s.ingress[0].ip_mode, "VIP");
  EXPECT_EQ(s.ingress[1].ip, "");
}

TEST(K8sParseService, DefaultsForAbsentAndNullFields) {
  auto r = parse_service_text(R"({"metadata": {"name": "web", "namespace": "default", "annotations": null},
    "spec": {"ports": [{"port": 80}], "loadBalancerClass": null, "type": "LoadBalancer"}, "status": {}})");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(r->load_balancer_class);
  EXPECT_EQ(r->ports[0].protocol, "TCP");
  EXPECT_EQ(r->ports[0].node_port, 0);
  EXPECT_FALSE(r->ports[0].target_port.is_set());
  EXPECT_EQ(r->session_affinity, "None");
  EXPECT_EQ(r->external_traffic_policy, "Cluster");
  EXPECT_TRUE(r->annotations.empty());
  EXPECT_TRUE(r->ingress.empty());
}

TEST(K8sParseService, KeepsOutOfRangePortsForTranslationToReport) {
  auto j = service_json();
  j["spec"]["ports"][0]["port"] = 0;
  j["spec"]["ports"][1]["port"] = 70000;
  auto r = parse_service(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ports[0].port, 0);
  EXPECT_EQ(r->ports[1].port, 70000);
}

TEST(K8sParseService, FiveThousandPortsParse) {
  auto j = service_json();
  j["spec"]["ports"] = json::array();
  for (int i = 0; i < 5000; ++i) j["spec"]["ports"].push_back({{"port", 1000 + i}, {"protocol", "TCP"}, {"name", "p" + std::to_string(i)}});
  auto r = parse_service(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ports.size(), 5000u);
}

TEST(K8sParseService, BadIpTextIsKeptForTranslationToReport) {
  auto j = service_json();
  j["spec"]["loadBalancerIP"] = "20.20.20.300";
  j["status"]["loadBalancer"]["ingress"][0]["ip"] = "not-an-ip";
  auto r = parse_service(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->load_balancer_ip, "20.20.20.300");
  EXPECT_EQ(r->ingress[0].ip, "not-an-ip");
}

struct MalformedCase {
  const char* label;
  void (*mutate)(json&);
  const char* expected;
};

TEST(K8sParseService, MalformedObjectsNameTheObjectAndField) {
  const MalformedCase cases[] = {
      {"port as string", [](json& j) { j["spec"]["ports"][1]["port"] = "80"; },
       "Service default/tcp-lb-fullnat: spec.ports[1].port: expected an integer, got string"},
      {"port missing", [](json& j) { j["spec"]["ports"][0].erase("port"); },
       "Service default/tcp-lb-fullnat: spec.ports[0].port: missing"},
      {"port float", [](json& j) { j["spec"]["ports"][0]["port"] = 80.5; },
       "Service default/tcp-lb-fullnat: spec.ports[0].port: expected an integer, got number"},
      {"huge port", [](json& j) { j["spec"]["ports"][0]["port"] = 18446744073709551615ull; },
       "Service default/tcp-lb-fullnat: spec.ports[0].port: integer out of range"},
      {"ports not a list", [](json& j) { j["spec"]["ports"] = json::object(); },
       "Service default/tcp-lb-fullnat: spec.ports: expected a list, got object"},
      {"port entry not an object", [](json& j) { j["spec"]["ports"][0] = 80; },
       "Service default/tcp-lb-fullnat: spec.ports[0]: expected an object, got number"},
      {"targetPort bool", [](json& j) { j["spec"]["ports"][0]["targetPort"] = true; },
       "Service default/tcp-lb-fullnat: spec.ports[0].targetPort: expected an integer or a string, got boolean"},
      {"type number", [](json& j) { j["spec"]["type"] = 3; },
       "Service default/tcp-lb-fullnat: spec.type: expected a string, got number"},
      {"class list", [](json& j) { j["spec"]["loadBalancerClass"] = json::array({"kvlb.io/lb"}); },
       "Service default/tcp-lb-fullnat: spec.loadBalancerClass: expected a string, got array"},
      {"annotation value number", [](json& j) { j["metadata"]["annotations"]["kvlb.io/mode"] = 1; },
       "Service default/tcp-lb-fullnat: metadata.annotations[kvlb.io/mode]: expected a string, got number"},
      {"timeout string", [](json& j) { j["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = "600"; },
       "Service default/tcp-lb-fullnat: spec.sessionAffinityConfig.clientIP.timeoutSeconds: expected an integer, got string"},
      {"ingress not objects", [](json& j) { j["status"]["loadBalancer"]["ingress"] = json::array({"20.20.20.1"}); },
       "Service default/tcp-lb-fullnat: status.loadBalancer.ingress[0]: expected an object, got string"},
      {"spec missing", [](json& j) { j.erase("spec"); }, "Service default/tcp-lb-fullnat: spec: missing"},
      {"name missing", [](json& j) { j["metadata"].erase("name"); }, "Service default/?: metadata.name: missing"},
      {"namespace missing", [](json& j) { j["metadata"].erase("namespace"); },
       "Service tcp-lb-fullnat: metadata.namespace: missing"},
      {"metadata missing", [](json& j) { j.erase("metadata"); }, "Service: metadata: missing"},
      {"wrong kind", [](json& j) { j["kind"] = "Pod"; }, "Service: kind: expected Service, got \"Pod\""},
      {"not an object", [](json& j) { j = json::array(); }, "Service: expected an object, got array"},
  };
  for (const auto& c : cases) {
    auto j = service_json();
    c.mutate(j);
    EXPECT_EQ(service_error(j), c.expected) << c.label;
  }
}

TEST(K8sParseService, InvalidJsonTextIsAnError) {
  auto r = parse_service_text("{\"metadata\": ");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(), "Service: invalid JSON");
}

TEST(K8sParseEndpointSlice, ReadsEveryField) {
  auto r = parse_endpoint_slice_text(kSlice);
  ASSERT_TRUE(r.ok()) << r.error().str();
  const auto& s = *r;
  EXPECT_EQ(s.id(), "default/tcp-lb-fullnat-x7k2p");
  EXPECT_EQ(s.service_name, "tcp-lb-fullnat");
  EXPECT_EQ(s.address_type, "IPv4");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].name, "tcp");
  EXPECT_EQ(s.ports[0].port, 8080);
  EXPECT_EQ(s.ports[1].name, "");
  ASSERT_EQ(s.endpoints.size(), 3u);
  EXPECT_EQ(s.endpoints[0].addresses, std::vector<std::string>{"10.42.1.5"});
  EXPECT_EQ(s.endpoints[0].conditions.ready, true);
  EXPECT_EQ(s.endpoints[0].node_name, "worker1");
  EXPECT_EQ(s.endpoints[1].conditions.ready, false);
  EXPECT_EQ(s.endpoints[1].conditions.serving, true);
  EXPECT_EQ(s.endpoints[1].conditions.terminating, true);
  EXPECT_FALSE(s.endpoints[2].conditions.ready);
  EXPECT_FALSE(s.endpoints[2].conditions.serving);
  EXPECT_FALSE(s.endpoints[2].conditions.terminating);
  EXPECT_EQ(s.endpoints[2].node_name, "");
}

TEST(K8sParseEndpointSlice, NullEndpointsAndPortsAreEmpty) {
  // What the controller writes for a Service without ready pods.
  auto r = parse_endpoint_slice_text(R"({"addressType": "IPv6", "endpoints": null, "ports": null,
    "metadata": {"name": "web-abcde", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}}})");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->endpoints.empty());
  EXPECT_TRUE(r->ports.empty());
  EXPECT_EQ(r->address_type, "IPv6");
}

TEST(K8sParseEndpointSlice, PortWithoutNumberMeansAllPorts) {
  auto j = slice_json();
  j["ports"] = json::array({json{{"name", "tcp"}, {"protocol", "TCP"}}});
  auto r = parse_endpoint_slice(j);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ports[0].port);
}

TEST(K8sParseEndpointSlice, MalformedSlicesNameTheObjectAndField) {
  const MalformedCase cases[] = {
      {"addresses missing", [](json& j) { j["endpoints"][1].erase("addresses"); },
       "EndpointSlice default/tcp-lb-fullnat-x7k2p: endpoints[1].addresses: missing"},
      {"address number", [](json& j) { j["endpoints"][0]["addresses"][0] = 10; },
       "EndpointSlice default/tcp-lb-fullnat-x7k2p: endpoints[0].addresses[0]: expected a string, got number"},
      {"ready string", [](json& j) { j["endpoints"][0]["conditions"]["ready"] = "true"; },
       "EndpointSlice default/tcp-lb-fullnat-x7k2p: endpoints[0].conditions.ready: expected a boolean, got string"},
      {"port string", [](json& j) { j["ports"][0]["port"] = "8080"; },
       "EndpointSlice default/tcp-lb-fullnat-x7k2p: ports[0].port: expected an integer, got string"},
      {"addressType missing", [](json& j) { j.erase("addressType"); },
       "EndpointSlice default/tcp-lb-fullnat-x7k2p: addressType: missing"},
      {"labels list", [](json& j) { j["metadata"]["labels"] = json::array(); },
       "EndpointSlice default/tcp-lb-fullnat-x7k2p: metadata.labels: expected an object, got array"},
      {"endpoints object", [](json& j) { j["endpoints"] = json::object(); },
       "EndpointSlice default/tcp-lb-fullnat-x7k2p: endpoints: expected a list, got object"},
  };
  for (const auto& c : cases) {
    auto j = slice_json();
    c.mutate(j);
    EXPECT_EQ(slice_error(j), c.expected) << c.label;
  }
}

TEST(K8sParseEndpointSlice, BadAddressTextIsKeptForTranslationToReport) {
  auto j = slice_json();
  j["endpoints"][0]["addresses"][0] = "10.42.1.999";
  auto r = parse_endpoint_slice(j);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->endpoints[0].addresses[0], "10.42.1.999");
}

TEST(K8sParseNode, ReadsInternalIpsAndReadiness) {
  auto r = parse_node_text(kNode);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->name, "worker1");
  EXPECT_EQ(r->internal_ips, (std::vector<std::string>{"192.168.80.101", "fd00:80::101"}));
  EXPECT_TRUE(r->ready);
}

TEST(K8sParseNode, NotReadyOrUnknownOrWithoutStatus) {
  auto j = json::parse(kNode);
  j["status"]["conditions"][1]["status"] = "Unknown";
  EXPECT_FALSE(parse_node(j)->ready);
  j["status"]["conditions"][1]["status"] = "False";
  EXPECT_FALSE(parse_node(j)->ready);
  j.erase("status");
  auto r = parse_node(j);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ready);
  EXPECT_TRUE(r->internal_ips.empty());
}

TEST(K8sParseNode, MalformedNodes) {
  auto j = json::parse(kNode);
  j["status"]["addresses"][0]["address"] = 7;
  auto r = parse_node(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(), "Node worker1: status.addresses[0].address: expected a string, got number");
  j = json::parse(kNode);
  j["status"]["conditions"] = "Ready";
  r = parse_node(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().str(), "Node worker1: status.conditions: expected a list, got string");
}
