#include <gtest/gtest.h>

#include "config/config_loader.h"

using kvlb::config::load_config_text;

namespace {
const char* kValid = R"(node: {name: lb1, interface: eth1}
reconcile: {drainTimeoutSeconds: 5}
services:
  - name: default/tcp-lb-fullnat
    vip: 20.20.20.1
    port: 56002
    protocol: tcp
    scheduler: wrr
    persistence: 300
    mode: fullnat
    snatAddress: 20.20.20.9
    endpoints:
      - {ip: 10.0.1.11, port: 8080, weight: 1}
      - {ip: 10.0.1.12, port: 8080, weight: 3}
  - name: default/empty
    vip: fd00:20::1
    port: 80
    protocol: sctp
)";

std::string first_error(const std::string& text) {
  auto r = load_config_text(text, "kvlb.yaml");
  EXPECT_FALSE(r.ok());
  return r.errors.empty() ? "" : r.errors.front().str();
}

std::string with_service(const std::string& service_fields) {
  return "node: {name: lb1, interface: eth1}\nservices:\n  - name: a/b\n" + service_fields;
}
}  // namespace

TEST(ConfigLoader, ParsesTheDocumentedKeys) {
  auto r = load_config_text(kValid, "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  ASSERT_EQ(r.state.services.size(), 2u);
  const auto& s = r.state.services[0];
  EXPECT_EQ(s.name, "default/tcp-lb-fullnat");
  EXPECT_EQ(s.key.str(), "20.20.20.1:56002/tcp");
  EXPECT_EQ(s.scheduler, "wrr");
  EXPECT_EQ(s.persistence_seconds, 300u);
  EXPECT_EQ(s.mode, kvlb::model::NatMode::FullNat);
  EXPECT_EQ(s.snat_address->str(), "20.20.20.9");
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.endpoints[1].weight, 3u);
  EXPECT_TRUE(r.state.services[1].endpoints.empty());
  EXPECT_EQ(r.state.services[1].key.str(), "[fd00:20::1]:80/sctp");
  EXPECT_EQ(r.state.settings.drain_timeout_seconds, 5u);
  EXPECT_EQ(r.state.node.interface, "eth1");
}

TEST(ConfigLoader, NamesFileLineAndFieldForBadValues) {
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.300\n    port: 80\n")),
            "kvlb.yaml:4: services[0].vip: not an IPv4 or IPv6 address (got 20.20.20.300)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 0\n")),
            "kvlb.yaml:5: services[0].port: must be 1..65535 (got 0)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 70000\n")),
            "kvlb.yaml:5: services[0].port: must be 1..65535 (got 70000)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    protocol: icmp\n")),
            "kvlb.yaml:6: services[0].protocol: unknown protocol 'icmp' (tcp, udp, sctp)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    scheduler: random\n")),
            "kvlb.yaml:6: services[0].scheduler: unknown scheduler 'random' (rr wrr lc wlc sh mh sed nq dh lblc lblcr fo ovf twos)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    mode: dsr\n")),
            "kvlb.yaml:6: services[0].mode: unknown mode 'dsr' (default, onearm, fullnat)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    prot: tcp\n")),
            "kvlb.yaml:6: services[0].prot: unknown key");
}

TEST(ConfigLoader, RefusesWeightsOutsideTheIpvsRange) {
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n"
                                     "      - {ip: 10.0.1.11, port: 8080, weight: 70000}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].weight: must be 0..65535 (got 70000)");
}

TEST(ConfigLoader, RefusesMixedFamilies) {
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n"
                                     "      - {ip: 'fd00:1::11', port: 8080}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].ip: IPv6 endpoint for an IPv4 vip");
}

TEST(ConfigLoader, RefusesDuplicateServiceKeys) {
  std::string text =
      "node: {name: lb1, interface: eth1}\nservices:\n"
      "  - {name: a/one, vip: 20.20.20.1, port: 80}\n"
      "  - {name: a/two, vip: 20.20.20.1, port: 80, protocol: tcp}\n";
  EXPECT_EQ(first_error(text), "kvlb.yaml:4: services[1]: duplicate vip:port/protocol 20.20.20.1:80/tcp (also in services[0])");
}

TEST(ConfigLoader, ReportsEveryProblemNotOnlyTheFirst) {
  std::string text =
      "node: {name: lb1, interface: eth1}\nservices:\n"
      "  - {name: a/one, vip: bad, port: 0}\n"
      "  - {name: a/two, vip: 20.20.20.1, port: 80, mode: x}\n";
  auto r = load_config_text(text, "kvlb.yaml");
  EXPECT_EQ(r.errors.size(), 3u);
}

TEST(ConfigLoader, RequiresTheNodeSection) {
  EXPECT_EQ(first_error("services: []\n"), "kvlb.yaml:1: node: is required");
  EXPECT_EQ(first_error("# kvlb\n\nservices: []\n"), "kvlb.yaml:3: node: is required");
}

TEST(ConfigLoader, ReportsYamlSyntaxErrors) {
  EXPECT_NE(first_error("node: {name: lb1\n").find("YAML syntax"), std::string::npos);
}

TEST(ConfigLoader, MissingFileIsAnError) {
  auto r = kvlb::config::load_config_file("/nonexistent/kvlb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].str(), "/nonexistent/kvlb.yaml: cannot read file");
}

// --- required fields: reported at the line of the mapping that lacks them ---

TEST(ConfigLoader, NamesTheMissingRequiredField) {
  EXPECT_EQ(first_error("node: {name: lb1, interface: eth1}\napi: {listen: off}\nservices:\n"
                        "  - name: a/b\n    port: 80\n"),
            "kvlb.yaml:4: services[0].vip: is required");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n")), "kvlb.yaml:3: services[0].port: is required");
  EXPECT_EQ(first_error("node: {name: lb1, interface: eth1}\nservices:\n  - {vip: 20.20.20.1, port: 80}\n"),
            "kvlb.yaml:3: services[0].name: is required");
  EXPECT_EQ(first_error("node: {interface: eth1}\n"), "kvlb.yaml:1: node.name: is required");
  EXPECT_EQ(first_error("node:\n  name: lb1\n"), "kvlb.yaml:2: node.interface: is required");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n      - {port: 8080}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].ip: is required");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n"
                                     "      - ip: 10.0.1.11\n        weight: 2\n")),
            "kvlb.yaml:7: services[0].endpoints[0].port: is required");
}

TEST(ConfigLoader, KeepsCollectingErrorsAfterAMissingField) {
  std::string text =
      "node: {name: lb1}\nservices:\n"
      "  - {name: a/one}\n"
      "  - {name: a/two, vip: 20.20.20.1, port: 80, mode: x}\n";
  auto r = load_config_text(text, "kvlb.yaml");
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0].str(), "kvlb.yaml:1: node.interface: is required");
  EXPECT_EQ(r.errors[1].str(), "kvlb.yaml:3: services[0].vip: is required");
  EXPECT_EQ(r.errors[2].str(), "kvlb.yaml:3: services[0].port: is required");
  EXPECT_EQ(r.errors[3].str(), "kvlb.yaml:4: services[1].mode: unknown mode 'x' (default, onearm, fullnat)");
}

TEST(ConfigLoader, ReportsErrorsInFileOrder) {
  std::string text =
      "services:\n"
      "  - {name: a/one, vip: 20.20.20.1, port: 0}\n"
      "node: {name: lb1, interface: eth1}\n"
      "reconcile: {resyncIntervalSeconds: 0}\n";
  auto r = load_config_text(text, "kvlb.yaml");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].str(), "kvlb.yaml:2: services[0].port: must be 1..65535 (got 0)");
  EXPECT_EQ(r.errors[1].str(), "kvlb.yaml:4: reconcile.resyncIntervalSeconds: must be 1..3600 (got 0)");
}

// --- duplicate keys ---

TEST(ConfigLoader, RefusesDuplicateKeys) {
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    port: 0\n")),
            "kvlb.yaml:6: services[0].port: duplicate key (first on line 5)");
  EXPECT_EQ(first_error("node: {name: lb1, interface: eth1}\nservices:\n"
                        "  - {name: a/b, vip: 20.20.20.1, port: 80, port: 0}\n"),
            "kvlb.yaml:3: services[0].port: duplicate key (first on line 3)");
  EXPECT_EQ(first_error("node: {name: lb1, interface: eth1}\nnode: {name: lb2, interface: eth2}\nservices: []\n"),
            "kvlb.yaml:2: node: duplicate key (first on line 1)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n"
                                     "      - {ip: 10.0.1.11, ip: 10.0.1.12, port: 8080}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].ip: duplicate key (first on line 7)");
  EXPECT_EQ(first_error("node: {name: lb1, name: lb1, interface: eth1}\n"),
            "kvlb.yaml:1: node.name: duplicate key (first on line 1)");
}

// --- persistence: the kernel keeps timeout * HZ (HZ up to 1000) in a u32 ---

TEST(ConfigLoader, CapsPersistenceAtThirtyDays) {
  auto r = load_config_text(with_service("    vip: 20.20.20.1\n    port: 80\n    persistence: 2592000\n"), "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  EXPECT_EQ(r.state.services[0].persistence_seconds, 2592000u);
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    persistence: 2592001\n")),
            "kvlb.yaml:6: services[0].persistence: must be 0..2592000 (got 2592001)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    persistence: 31536000\n")),
            "kvlb.yaml:6: services[0].persistence: must be 0..2592000 (got 31536000)");
}

// --- names: shown by kvlbctl and serialized as JSON by the REST API ---

namespace {
std::string service_named(const std::string& yaml_name) {
  return "node: {name: lb1, interface: eth1}\nservices:\n  - {name: " + yaml_name + ", vip: 20.20.20.1, port: 80}\n";
}
}  // namespace

TEST(ConfigLoader, AcceptsUtf8NamesUpTo253Bytes) {
  for (const std::string& name : {std::string("default/caf\xc3\xa9"), std::string(253, 'n')}) {
    auto r = load_config_text(service_named("'" + name + "'"), "kvlb.yaml");
    ASSERT_TRUE(r.ok()) << r.errors.front().str();
    EXPECT_EQ(r.state.services[0].name, name);
  }
}

TEST(ConfigLoader, RefusesUnusableNames) {
  EXPECT_EQ(first_error(service_named("''")), "kvlb.yaml:3: services[0].name: must not be empty");
  EXPECT_EQ(first_error(service_named(std::string(254, 'n'))),
            "kvlb.yaml:3: services[0].name: must be at most 253 bytes (got 254)");
  EXPECT_EQ(first_error(service_named("\"a\\tb\"")),
            "kvlb.yaml:3: services[0].name: must not contain control characters (U+0009 at byte 1)");
  EXPECT_EQ(first_error(service_named("\"a/\\x01\"")),
            "kvlb.yaml:3: services[0].name: must not contain control characters (U+0001 at byte 2)");
  EXPECT_EQ(first_error(service_named("\"a\\u0085\"")),  // C1 control (NEL)
            "kvlb.yaml:3: services[0].name: must not contain control characters (U+0085 at byte 1)");
  EXPECT_EQ(first_error(service_named("\"a\\0\"")),
            "kvlb.yaml:3: services[0].name: must not contain control characters (U+0000 at byte 1)");
  // Bytes that are not UTF-8 are refused while reading, with their line.
  EXPECT_EQ(first_error(service_named("a/\xff")), "kvlb.yaml:3: YAML syntax: invalid leading UTF-8 octet (#xFF)");
  EXPECT_EQ(first_error(service_named("a/\xc3")),
            "kvlb.yaml:3: YAML syntax: invalid trailing UTF-8 octet (#x2C)");
  EXPECT_EQ(first_error("node: {name: '', interface: eth1}\n"), "kvlb.yaml:1: node.name: must not be empty");
  EXPECT_EQ(first_error("node: {name: \"lb\\n1\", interface: eth1}\n"),
            "kvlb.yaml:1: node.name: must not contain control characters (U+000A at byte 2)");
}

// --- api.listen ---

namespace {
std::string with_listen(const std::string& listen) {
  return "node: {name: lb1, interface: eth1}\napi: {listen: " + listen + "}\nservices: []\n";
}
}  // namespace

TEST(ConfigLoader, AcceptsListenAddressesAndOff) {
  for (std::string listen : {"off", "127.0.0.1:7711", "0.0.0.0:1", "[::1]:7711", "[::]:65535", "[fd00::1]:80"}) {
    auto r = load_config_text(with_listen("'" + listen + "'"), "kvlb.yaml");
    ASSERT_TRUE(r.ok()) << listen << ": " << r.errors.front().str();
    EXPECT_EQ(r.state.settings.api_listen, listen);
  }
}

TEST(ConfigLoader, RefusesMalformedListenAddresses) {
  for (std::string listen : {"localhost:7711", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                                    "::1:7711", "[127.0.0.1]:80", "[::1]", "[::1]:x", "127.0.0.1:+80", ":7711", "on",
                                    "127.0.0.1:7711 "}) {
    EXPECT_EQ(first_error(with_listen("'" + listen + "'")),
              "kvlb.yaml:2: api.listen: must be \"off\", IPv4:port or [IPv6]:port with port 1..65535 (got " + listen +
                  ")")
        << listen;
  }
  EXPECT_EQ(first_error(with_listen("[7711]")), "kvlb.yaml:2: api.listen: must be a string");
}

// --- addresses that cannot be programmed ---

TEST(ConfigLoader, RefusesUnusableAddresses) {
  const std::string why = "must be a unicast address, not unspecified, loopback, multicast or broadcast (got ";
  for (std::string vip : {"0.0.0.0", "127.0.0.1", "224.0.0.1", "239.1.2.3", "255.255.255.255", "'::'", "'::1'",
                                 "'ff02::1'", "'::ffff:127.0.0.1'"}) {
    auto unquoted = vip.front() == '\'' ? vip.substr(1, vip.size() - 2) : vip;
    EXPECT_EQ(first_error(with_service("    vip: " + vip + "\n    port: 80\n")),
              "kvlb.yaml:4: services[0].vip: " + why + unquoted + ")");
  }
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints:\n"
                                     "      - {ip: 127.0.0.1, port: 8080}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].ip: " + why + "127.0.0.1)");
  EXPECT_EQ(first_error(with_service("    vip: 'fd00::1'\n    port: 80\n    endpoints:\n"
                                     "      - {ip: 'ff05::2', port: 8080}\n")),
            "kvlb.yaml:7: services[0].endpoints[0].ip: " + why + "ff05::2)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    mode: fullnat\n"
                                     "    snatAddress: 0.0.0.0\n")),
            "kvlb.yaml:7: services[0].snatAddress: " + why + "0.0.0.0)");
}

TEST(ConfigLoader, AnInvalidVipDoesNotAlsoBlameTheEndpoints) {
  auto r = load_config_text(with_service("    vip: 0.0.0.0\n    port: 80\n    endpoints:\n"
                                         "      - {ip: 'fd00::11', port: 8080}\n"),
                            "kvlb.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "services[0].vip");
}

// --- YAML features ---

TEST(ConfigLoader, ResolvesAliasesBetweenServices) {
  std::string text =
      "node: {name: lb1, interface: eth1}\nservices:\n"
      "  - {name: a/one, vip: 20.20.20.1, port: 80, endpoints: &eps [{ip: 10.0.1.11, port: 8080}]}\n"
      "  - {name: a/two, vip: 20.20.20.1, port: 81, endpoints: *eps}\n";
  auto r = load_config_text(text, "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  ASSERT_EQ(r.state.services.size(), 2u);
  ASSERT_EQ(r.state.services[1].endpoints.size(), 1u);
  EXPECT_EQ(r.state.services[1].endpoints[0].ip.str(), "10.0.1.11");
}

TEST(ConfigLoader, RefusesASecondDocumentAndUnknownAliases) {
  EXPECT_EQ(first_error("node: {name: lb1, interface: eth1}\n---\nservices: []\n"),
            "kvlb.yaml:2: YAML: only one document is allowed (a second one starts here)");
  EXPECT_EQ(first_error(with_service("    vip: 20.20.20.1\n    port: 80\n    endpoints: *none\n")),
            "kvlb.yaml:6: YAML: alias *none refers to no anchor before it");
}

TEST(ConfigLoader, ReportsTheLineOfYamlSyntaxErrors) {
  EXPECT_EQ(first_error("node: {name: lb1, interface: eth1}\nservices:\n  - {name: a/b, vip: 20.20.20.1\n"),
            "kvlb.yaml:4: YAML syntax: did not find expected ',' or '}' (while parsing a flow mapping that starts on line 3)");
}

TEST(ConfigLoader, EmptyFilesAreRefused) {
  EXPECT_EQ(first_error(""), "kvlb.yaml: empty config");
  EXPECT_EQ(first_error("# nothing\n"), "kvlb.yaml: empty config");
}
