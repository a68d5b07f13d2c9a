#include "fakes/fake_conntrack.h"

#include <cstdlib>
#include <utility>

namespace kvlb::fakes {

Result<std::vector<kernel::ConnEntry>> FakeConntrack::list() {
  ++list_calls_;
  if (failure) return *failure;
  return entries;
}

kernel::ConnEntry& FakeConntrack::add(model::Protocol protocol, std::string_view client, uint16_t client_port,
                                      std::string_view vip, uint16_t vip_port) {
  auto parse = [](std::string_view text) {
    auto address = model::IpAddress::parse(text);
    if (!address) std::abort();  // a typo in a test, not a condition to handle
    return *address;
  };
  kernel::ConnEntry entry;
  entry.protocol = protocol;
  entry.client = parse(client);
  entry.client_port = client_port;
  entry.vip = parse(vip);
  entry.vip_port = vip_port;
  entry.endpoint = entry.vip;
  entry.endpoint_port = vip_port;
  entry.snat_source = entry.client;
  entry.snat_port = client_port;
  entry.state = protocol == model::Protocol::Udp ? "" : "ESTABLISHED";
  return entries.emplace_back(std::move(entry));
}

}  // namespace kvlb::fakes
