// IP sharing: several Services on one IP with the same sharing key and
// different (protocol, port)s.
#include <gtest/gtest.h>

#include "unit/ipam/ipam_test_support.h"

namespace kvlb::ipam {
namespace {

using namespace testing;

Request shared(std::string name, std::string key, std::vector<PortUse> ports, std::string_view addresses = "",
               std::string pool_name = "") {
  return Request{.service = std::move(name), .pool = std::move(pool_name), .requested = ips(addresses),
                 .sharing_key = std::move(key), .ports = std::move(ports)};
}

const std::vector<model::IpPool> kPools = {pool("blue", {"192.0.2.0/24", "2001:db8::/64"})};

const std::vector<Scenario> kRequested = {
    {"same key, different ports: shared",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "k", {tcp(443)}, "192.0.2.5")), "192.0.2.5"},
      {usage(), "blue v4 1/256 v6 0/18446744073709551615"}}},
    {"same port number, other protocol: shared",
     kPools,
     {{assign(shared("default/dns-tcp", "dns", {tcp(53)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/dns-udp", "dns", {udp(53)}, "192.0.2.5")), "192.0.2.5"}}},
    {"same key, same port: refused naming the holder and the port",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80), tcp(443)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "k", {tcp(8080), tcp(443)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/a, which also uses port 443/tcp"},
      {allocation("default/b"), "none"}}},
    {"different keys: refused",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "other", {tcp(443)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/a, which shares it only with sharing key \"k\""}}},
    {"no key asking for a shared IP: refused",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "", {tcp(443)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/a, which shares it only with sharing key \"k\""}}},
    {"the holder has no key: refused",
     kPools,
     {{assign(shared("default/a", "", {tcp(80)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "k", {tcp(443)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/a"}}},
    {"several holders: the one that conflicts is named",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "k", {tcp(443)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/c", "k", {tcp(443)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/b, which also uses port 443/tcp"},
      {assign(shared("default/c", "k2", {tcp(22)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/a, which shares it only with sharing key \"k\""},
      {assign(shared("default/c", "k", {tcp(22)}, "192.0.2.5")), "192.0.2.5"}}},
    {"a holder that changes its key cannot stay, and keeps its IP until it can",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "k", {tcp(443)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "k2", {tcp(443)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/a, which shares it only with sharing key \"k\""},
      {allocation("default/b"), "192.0.2.5"},
      // Still recorded with its old key and port: a third service sees that.
      {assign(shared("default/c", "k", {tcp(443)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/b, which also uses port 443/tcp"},
      {release("default/a"), "released"},
      {assign(shared("default/b", "k2", {tcp(443)}, "192.0.2.5")), "192.0.2.5"}}},
    {"a service updating its own ports never conflicts with itself",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/a", "k", {tcp(80), tcp(81)}, "192.0.2.5")), "192.0.2.5"},
      {assign(shared("default/b", "k", {tcp(81)}, "192.0.2.5")),
       "spec.loadBalancerIP: 192.0.2.5 is in use by default/a, which also uses port 81/tcp"}}},
};

TEST(AllocatorSharing, RequestedIps) {
  for (const Scenario& s : kRequested) run(s);
}

const std::vector<Scenario> kAuto = {
    {"the same key joins the IP already held",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/c", "", {tcp(443)})), "192.0.2.1"},
      {assign(shared("default/b", "k", {tcp(443)})), "192.0.2.0"},
      {usage(), "blue v4 2/256 v6 0/18446744073709551615"}}},
    {"a port conflict takes a new IP instead",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/b", "k", {tcp(80)})), "192.0.2.1"},
      {assign(shared("default/c", "k", {tcp(80)})), "192.0.2.2"},
      {assign(shared("default/d", "k", {tcp(443)})), "192.0.2.0"}}},  // the lowest IP it can join
    {"another key never joins",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/b", "k2", {tcp(443)})), "192.0.2.1"}}},
    {"no key never joins, and nobody joins a key-less IP",
     kPools,
     {{assign(shared("default/a", "", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/b", "", {tcp(443)})), "192.0.2.1"},
      {assign(shared("default/c", "k", {tcp(22)})), "192.0.2.2"}}},
    {"a shared IP in a later pool beats a free one in an earlier pool",
     {pool("first", {"192.0.2.0/24"}), pool("second", {"198.51.100.0/24"})},
     {{assign(shared("default/a", "k", {tcp(80)}, "198.51.100.7")), "198.51.100.7"},
      {assign(shared("default/b", "k", {tcp(443)})), "198.51.100.7"}}},
    {"a shared IP outside the named pool is not joined",
     {pool("first", {"192.0.2.0/24"}), pool("second", {"198.51.100.0/24"})},
     {{assign(shared("default/a", "k", {tcp(80)}, "198.51.100.7")), "198.51.100.7"},
      {assign(shared("default/b", "k", {tcp(443)}, "", "first")), "192.0.2.0"}}},
    {"a shared IP in a pool without auto-assign is not joined by auto assignment",
     {pool("auto", {"192.0.2.0/24"}), pool("manual", {"198.51.100.0/24"}, false)},
     {{assign(shared("default/a", "k", {tcp(80)}, "198.51.100.7")), "198.51.100.7"},
      {assign(shared("default/b", "k", {tcp(443)})), "192.0.2.0"}}},
    {"the IP stays held until its last holder is released",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/b", "k", {tcp(443)})), "192.0.2.0"},
      {release("default/a"), "released"},
      {assign(shared("default/c", "", {})), "192.0.2.1"},
      {assign(shared("default/d", "k", {tcp(22)})), "192.0.2.0"},  // the key still holds it through b
      {release("default/b"), "released"},
      {release("default/d"), "released"},
      {assign(shared("default/e", "", {})), "192.0.2.0"},
      {assign(shared("default/f", "k", {tcp(22)})), "192.0.2.2"}}},  // the key holds nothing any more
    {"a holder whose ports now conflict moves to a new IP",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/b", "k", {tcp(443)})), "192.0.2.0"},
      {assign(shared("default/b", "k", {tcp(443), tcp(80)})), "192.0.2.1"},
      {allocation("default/a"), "192.0.2.0"}}},
    {"a holder whose key changed moves to a new IP",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/b", "k", {tcp(443)})), "192.0.2.0"},
      {assign(shared("default/b", "k2", {tcp(443)})), "192.0.2.1"},
      {assign(shared("default/c", "k2", {tcp(80)})), "192.0.2.1"}}},
    {"a sole holder changing its key keeps its IP",
     kPools,
     {{assign(shared("default/a", "k", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/a", "k2", {tcp(80)})), "192.0.2.0"},
      {assign(shared("default/b", "k", {tcp(443)})), "192.0.2.1"},
      {assign(shared("default/c", "k2", {tcp(443)})), "192.0.2.0"}}},
    {"dual-stack services share both IPs",
     kPools,
     {{assign(Request{.service = "default/a", .families = {V4, V6}, .sharing_key = "k", .ports = {tcp(80)}}),
       "192.0.2.0 2001:db8::"},
      {assign(Request{.service = "default/b", .families = {V6, V4}, .sharing_key = "k", .ports = {tcp(443)}}),
       "2001:db8:: 192.0.2.0"},
      {assign(Request{.service = "default/c", .families = {V6}, .sharing_key = "k", .ports = {tcp(22)}}),
       "2001:db8::"}}},
};

TEST(AllocatorSharing, AutoAssignment) {
  for (const Scenario& s : kAuto) run(s);
}

}  // namespace
}  // namespace kvlb::ipam
