// ServiceSync: allocation, translation, status and Events for changed Services.
#include <gtest/gtest.h>

#include "cluster/api_writes.h"
#include "cluster/service_sync.h"

namespace {

using kvlb::cluster::CacheChanges;
using kvlb::cluster::ServiceSync;
using kvlb::cluster::StatusWrite;
using kvlb::cluster::SyncOptions;
using kvlb::k8s::EndpointSlice;
using kvlb::k8s::LoadBalancerIngress;
using kvlb::k8s::Service;
using kvlb::model::IpAddress;
using kvlb::model::IpPool;

IpPool pool(const std::string& name, const std::string& first, const std::string& last, bool auto_assign = true) {
  return {name, {{*IpAddress::parse(first), *IpAddress::parse(last)}}, auto_assign};
}

Service lb(const std::string& name, std::string rv = "1") {
  Service s;
  s.namespace_ = "default";
  s.name = name;
  s.uid = "uid-" + name;
  s.resource_version = std::move(rv);
  s.type = "LoadBalancer";
  s.load_balancer_class = "kvlb.io/lb";
  kvlb::k8s::ServicePort port;
  port.name = "http";
  port.port = 80;
  port.target_port.number = 8080;
  s.ports.push_back(port);
  return s;
}

EndpointSlice slice_for(const std::string& service, std::vector<std::string> ips) {
  EndpointSlice es;
  es.namespace_ = "default";
  es.name = service + "-abc";
  es.service_name = service;
  es.address_type = "IPv4";
  es.ports.push_back({"http", 8080, "TCP"});
  for (auto& ip : ips) {
    kvlb::k8s::SliceEndpoint ep;
    ep.addresses = {ip};
    ep.conditions.ready = true;
    es.endpoints.push_back(ep);
  }
  return es;
}

// A pass where the given Services changed (and nothing else).
CacheChanges changed(std::vector<Service> services, std::vector<EndpointSlice> slices = {},
                     std::vector<std::string> deleted = {}) {
  CacheChanges c;
  for (auto& s : services) {
    c.dirty.insert(s.id());
    c.slices[s.id()];
    c.services.emplace(s.id(), std::move(s));
  }
  for (auto& es : slices) c.slices["default/" + es.service_name].push_back(std::move(es));
  for (auto& id : deleted) c.dirty.insert(id);
  c.nodes = std::vector<kvlb::k8s::Node>{};
  return c;
}

std::vector<LoadBalancerIngress> vip(const std::string& ip, const std::string& mode = "VIP") { return {{ip, mode}}; }

class ServiceSyncTest : public ::testing::Test {
 protected:
  ServiceSync sync{{pool("default", "192.0.2.10", "192.0.2.12"), pool("reserved", "198.51.100.1", "198.51.100.1", false)},
                   SyncOptions{}};
};

}  // namespace

TEST_F(ServiceSyncTest, GivesTheLowestFreeIpProgramsEndpointsAndWritesStatusOnce) {
  auto web = lb("web");
  auto r = sync.sync(changed({web}, {slice_for("web", {"10.1.0.1", "10.1.0.2"})}));
  EXPECT_TRUE(r.services_changed);
  EXPECT_TRUE(r.events.empty());
  ASSERT_EQ(r.status.size(), 1u);
  EXPECT_EQ(r.status[0], (StatusWrite{"default", "web", vip("192.0.2.10")}));
  auto services = sync.services();
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].name, "default/web:http");
  EXPECT_EQ(services[0].key.str(), "192.0.2.10:80/tcp");
  ASSERT_EQ(services[0].endpoints.size(), 2u);
  EXPECT_EQ(services[0].endpoints[0].ip.str(), "10.1.0.1");
  EXPECT_EQ(services[0].endpoints[0].port, 8080);

  // The same object again (its write not seen back yet): no second write.
  r = sync.sync(changed({web}, {slice_for("web", {"10.1.0.1", "10.1.0.2"})}));
  EXPECT_TRUE(r.status.empty());
  EXPECT_FALSE(r.services_changed);
  // The write came back: status matches, nothing to do.
  web.resource_version = "2";
  web.ingress = vip("192.0.2.10");
  r = sync.sync(changed({web}, {slice_for("web", {"10.1.0.1", "10.1.0.2"})}));
  EXPECT_TRUE(r.status.empty());
  // Someone overwrote the status: kvlb writes it again.
  web.resource_version = "3";
  web.ingress = vip("203.0.113.9");
  r = sync.sync(changed({web}, {slice_for("web", {"10.1.0.1", "10.1.0.2"})}));
  ASSERT_EQ(r.status.size(), 1u);
  EXPECT_EQ(r.status[0].ingress, vip("192.0.2.10"));
}

TEST_F(ServiceSyncTest, LeavesOtherClassesAndTypesAlone) {
  auto other = lb("other");
  other.load_balancer_class = "example.com/other";
  auto classless = lb("classless");
  classless.load_balancer_class.reset();
  auto cluster_ip = lb("internal");
  cluster_ip.type = "ClusterIP";
  other.ingress = vip("192.0.2.10");  // another controller's IP, inside our pool
  auto r = sync.sync(changed({other, classless, cluster_ip}));
  EXPECT_TRUE(r.status.empty());
  EXPECT_TRUE(r.events.empty());
  EXPECT_TRUE(sync.services().empty());
}

TEST_F(ServiceSyncTest, RestoresAllocationsFromStatusBeforeAssigningAnything) {
  auto a = lb("a"), b = lb("b");
  b.ingress = vip("192.0.2.10");  // b had the lowest IP before the restart
  auto r = sync.sync(changed({a, b}));
  ASSERT_EQ(r.status.size(), 1u);  // only a is new
  EXPECT_EQ(r.status[0], (StatusWrite{"default", "a", vip("192.0.2.11")}));
  auto services = sync.services();
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0].name, "default/b:http");
  EXPECT_EQ(services[0].key.vip.str(), "192.0.2.10");
}

TEST_F(ServiceSyncTest, ClassChangedAwayReleasesAndClearsAndBackReallocates) {
  auto web = lb("web");
  (void)sync.sync(changed({web}));
  web.resource_version = "2";
  web.ingress = vip("192.0.2.10");
  web.load_balancer_class = "example.com/other";
  auto r = sync.sync(changed({web}));
  EXPECT_TRUE(r.services_changed);
  ASSERT_EQ(r.status.size(), 1u);
  EXPECT_TRUE(r.status[0].ingress.empty());
  EXPECT_EQ(kvlb::cluster::status_patch(r.status[0]).dump(), R"({"status":{"loadBalancer":{"ingress":null}}})");
  EXPECT_TRUE(sync.services().empty());
  // Another Service can now have the IP.
  r = sync.sync(changed({lb("next")}));
  ASSERT_EQ(r.status.size(), 1u);
  EXPECT_EQ(r.status[0].ingress, vip("192.0.2.10"));
}

TEST_F(ServiceSyncTest, DeletedServiceFreesItsIp) {
  (void)sync.sync(changed({lb("a")}));
  auto r = sync.sync(changed({}, {}, {"default/a"}));
  EXPECT_TRUE(r.services_changed);
  EXPECT_TRUE(r.status.empty());  // nothing left to write to
  r = sync.sync(changed({lb("b")}));
  EXPECT_EQ(r.status.at(0).ingress, vip("192.0.2.10"));
}

TEST_F(ServiceSyncTest, ProblemsBecomeOneEventEachAndOthersKeepWorking) {
  auto outside = lb("outside");
  outside.load_balancer_ip = "203.0.113.5";
  auto bad = lb("bad");
  bad.annotations["kvlb.io/ips"] = "192.0.2.300";
  auto mode = lb("mode");
  mode.annotations["kvlb.io/mode"] = "dsr";
  auto good = lb("good");
  auto r = sync.sync(changed({outside, bad, mode, good}));
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].name, "bad");
  EXPECT_EQ(r.events[0].reason, "AllocationFailed");
  EXPECT_EQ(r.events[0].message, "annotation kvlb.io/ips: \"192.0.2.300\" is not a usable unicast IP address");
  EXPECT_EQ(r.events[2].name, "outside");
  EXPECT_EQ(r.events[2].message, "spec.loadBalancerIP: 203.0.113.5 is not in any pool");
  EXPECT_EQ(r.events[1].name, "mode");
  EXPECT_EQ(r.events[1].reason, "InvalidService");
  // good and mode (default mode used) are programmed; the others are not.
  std::set<std::string> names;
  for (const auto& s : sync.services()) names.insert(s.name);
  EXPECT_EQ(names, (std::set<std::string>{"default/good:http", "default/mode:http"}));
  // Seen again unchanged: no new Events.
  r = sync.sync(changed({outside, bad, mode, good}));
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(sync.problems().size(), 3u);
  // Fixed, then broken again: reported again.
  outside.load_balancer_ip = "";
  (void)sync.sync(changed({outside}));
  EXPECT_FALSE(sync.problems().contains("default/outside"));
  outside.load_balancer_ip = "203.0.113.5";
  r = sync.sync(changed({outside}));
  EXPECT_EQ(r.events.size(), 1u);
}

TEST_F(ServiceSyncTest, ARequestedIpHeldByAnotherServiceIsRefused) {
  auto first = lb("first"), second = lb("second");
  first.load_balancer_ip = "192.0.2.12";
  second.load_balancer_ip = "192.0.2.12";
  auto r = sync.sync(changed({first, second}));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].name, "second");
  EXPECT_EQ(r.events[0].message, "spec.loadBalancerIP: 192.0.2.12 is in use by default/first");
  ASSERT_EQ(r.status.size(), 1u);
  EXPECT_EQ(r.status[0].name, "first");
}

TEST_F(ServiceSyncTest, SharingKeyLetsServicesWithDifferentPortsShareOneIp) {
  auto a = lb("a"), b = lb("b");
  a.annotations["kvlb.io/sharing-key"] = "k";
  b.annotations["kvlb.io/sharing-key"] = "k";
  b.ports[0].port = 443;
  auto r = sync.sync(changed({a, b}));
  ASSERT_EQ(r.status.size(), 2u);
  EXPECT_EQ(r.status[0].ingress, vip("192.0.2.10"));
  EXPECT_EQ(r.status[1].ingress, vip("192.0.2.10"));
  EXPECT_EQ(sync.services().size(), 2u);
}

TEST_F(ServiceSyncTest, PoolAnnotationPicksANonAutoAssignPool) {
  auto special = lb("special");
  special.annotations["kvlb.io/pool"] = "reserved";
  auto r = sync.sync(changed({special}));
  EXPECT_EQ(r.status.at(0).ingress, vip("198.51.100.1"));
}

TEST_F(ServiceSyncTest, ExhaustedPoolIsReportedAndOthersKeepTheirIps) {
  auto r = sync.sync(changed({lb("a"), lb("b"), lb("c"), lb("d")}));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].name, "d");
  EXPECT_NE(r.events[0].message.find("has a free IPv4 address (\"default\": 3 of 3 in use"), std::string::npos) << r.events[0].message;
  EXPECT_EQ(r.status.size(), 3u);
}

TEST_F(ServiceSyncTest, IpModeProxyIsWritten) {
  SyncOptions options;
  options.ip_mode = "Proxy";
  ServiceSync proxy({pool("default", "192.0.2.10", "192.0.2.12")}, options);
  auto r = proxy.sync(changed({lb("web")}));
  EXPECT_EQ(r.status.at(0).ingress, vip("192.0.2.10", "Proxy"));
  EXPECT_EQ(kvlb::cluster::status_patch(r.status[0]).dump(),
            R"({"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10","ipMode":"Proxy"}]}}})");
}

TEST_F(ServiceSyncTest, AFailedStatusWriteIsRepeated) {
  auto web = lb("web");
  (void)sync.sync(changed({web}));
  sync.status_write_failed("default/web");
  auto r = sync.sync(changed({web}));
  EXPECT_EQ(r.status.size(), 1u);
}

TEST_F(ServiceSyncTest, UnreadableServiceIsReportedOnTheService) {
  CacheChanges c;
  c.parse_errors.push_back({"Service", "default/web", "spec.ports[0].port", "expected an integer, got string"});
  c.parse_errors.push_back({"Node", "n1", "status", "expected an object"});
  auto r = sync.sync(c);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].reason, "InvalidService");
  EXPECT_EQ(r.events[0].message,
            "spec.ports[0].port: expected an integer, got string (the last valid version stays in effect)");
  EXPECT_EQ(r.log.size(), 1u);
}

TEST(ApiWrites, EventNamesTheService) {
  kvlb::cluster::EventWrite e{"default", "web", "u1", "AllocationFailed", "spec.loadBalancerIP: x"};
  auto body = kvlb::cluster::event_body(e, "lb1", "2026-01-02T03:04:05Z");
  EXPECT_EQ(kvlb::cluster::events_path(e), "/api/v1/namespaces/default/events");
  EXPECT_EQ(body["involvedObject"]["name"], "web");
  EXPECT_EQ(body["involvedObject"]["uid"], "u1");
  EXPECT_EQ(body["involvedObject"]["kind"], "Service");
  EXPECT_EQ(body["metadata"]["generateName"], "web.");
  EXPECT_EQ(body["type"], "Warning");
  EXPECT_EQ(body["reason"], "AllocationFailed");
  EXPECT_EQ(body["lastTimestamp"], "2026-01-02T03:04:05Z");
}
