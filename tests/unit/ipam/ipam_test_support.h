#pragma once
// Short spellings for allocator tests, so each table row reads like the
// situation it describes: pools, then steps with the outcome each must have.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/allocator.h"
#include "model/address.h"
#include "model/types.h"

namespace kvlb::ipam::testing {

inline model::IpAddress ip(std::string_view text) {
  auto parsed = model::IpAddress::parse(text);
  if (!parsed) std::abort();  // a typo in a test table
  return *parsed;
}

// "192.0.2.1 2001:db8::1" -> two addresses.
inline std::vector<model::IpAddress> ips(std::string_view text) {
  std::vector<model::IpAddress> out;
  std::istringstream words{std::string(text)};
  for (std::string word; words >> word;) out.push_back(ip(word));
  return out;
}

// "192.0.2.0/28" or "192.0.2.1-192.0.2.5". The CIDR's last address is worked
// out here byte by byte, independently of the code under test.
inline model::IpRange range(std::string_view text) {
  if (auto dash = text.find('-'); dash != std::string_view::npos)
    return {ip(text.substr(0, dash)), ip(text.substr(dash + 1))};
  auto prefix = model::IpPrefix::parse(text);
  if (!prefix) std::abort();
  std::array<uint8_t, 16> bytes = prefix->address.bytes();
  std::size_t size = prefix->address.size();
  for (std::size_t bit = static_cast<std::size_t>(prefix->length); bit < size * 8; ++bit)
    bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  model::IpAddress last = prefix->address.is_v4()
                              ? model::IpAddress::from_v4({bytes[0], bytes[1], bytes[2], bytes[3]})
                              : model::IpAddress::from_v6(bytes);
  return {prefix->address, last};
}

inline model::IpPool pool(std::string name, std::vector<std::string_view> ranges, bool auto_assign = true) {
  model::IpPool out{.name = std::move(name), .auto_assign = auto_assign};
  for (std::string_view r : ranges) out.ranges.push_back(range(r));
  return out;
}

inline constexpr model::Family V4 = model::Family::V4;
inline constexpr model::Family V6 = model::Family::V6;
inline PortUse tcp(uint16_t port) { return {model::Protocol::Tcp, port}; }
inline PortUse udp(uint16_t port) { return {model::Protocol::Udp, port}; }

inline std::string text(const std::vector<model::IpAddress>& list) {
  std::string out;
  for (const auto& address : list) out += (out.empty() ? "" : " ") + address.str();
  return out;
}

// "192.0.2.1 2001:db8::1" on success, "field: message" on failure.
inline std::string outcome(const Result<std::vector<model::IpAddress>, Problem>& result) {
  return result.ok() ? text(result.value()) : result.error().str();
}

// One action on the allocator and the text it must produce.
struct Step {
  std::function<std::string(Allocator&)> action;
  std::string expected;
};

inline std::function<std::string(Allocator&)> assign(Request request) {
  return [request](Allocator& a) { return outcome(a.assign(request)); };
}
inline std::function<std::string(Allocator&)> restore(Request request, std::string_view addresses) {
  return [request, list = ips(addresses)](Allocator& a) { return outcome(a.restore(request, list)); };
}
inline std::function<std::string(Allocator&)> release(std::string service) {
  return [service](Allocator& a) {
    a.release(service);
    return std::string("released");
  };
}
inline std::function<std::string(Allocator&)> set_pools(std::vector<model::IpPool> pools) {
  return [pools](Allocator& a) {
    a.set_pools(pools);
    return std::string("reloaded");
  };
}
// What the allocator records for a service: its IPs, or "none".
inline std::function<std::string(Allocator&)> allocation(std::string service) {
  return [service](Allocator& a) {
    auto held = a.allocation(service);
    return held ? text(*held) : std::string("none");
  };
}
// "blue v4 3/16 v6 0/0; red v4 ..." in the order usage() returns.
inline std::function<std::string(Allocator&)> usage() {
  return [](Allocator& a) {
    std::string out;
    for (const PoolUsage& u : a.usage())
      out += (out.empty() ? "" : "; ") + u.pool + " v4 " + std::to_string(u.used_v4) + "/" +
             std::to_string(u.size_v4) + " v6 " + std::to_string(u.used_v6) + "/" + std::to_string(u.size_v6);
    return out;
  };
}

struct Scenario {
  std::string name;
  std::vector<model::IpPool> pools;
  std::vector<Step> steps;
};

inline void run(const Scenario& scenario) {
  SCOPED_TRACE(scenario.name);
  Allocator allocator(scenario.pools);
  for (std::size_t i = 0; i < scenario.steps.size(); ++i)
    EXPECT_EQ(scenario.steps[i].action(allocator), scenario.steps[i].expected) << "step " << i;
}

}  // namespace kvlb::ipam::testing
