// Adds N VIPs to a veth interface through NetlinkAddressTable, lists the
// interface, then deletes them all, as an HA takeover and a step-down do;
// prints one JSON object. Runs in a network namespace of its own (root).
#include <sched.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "kernel/addr/netlink_address_table.h"

namespace {

using namespace kvlb;

// 198.18.0.0/15 (benchmarking) for IPv4, 2001:2::/48 (benchmarking) for IPv6.
model::IpAddress vip_of(std::size_t index, bool ipv6) {
  if (!ipv6)
    return model::IpAddress::from_v4({198, static_cast<uint8_t>(18 + index / 65536 % 2),
                                      static_cast<uint8_t>(index / 256 % 256), static_cast<uint8_t>(index % 256)});
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x00, 0x02};
  v6[13] = static_cast<uint8_t>(index >> 16);
  v6[14] = static_cast<uint8_t>(index >> 8);
  v6[15] = static_cast<uint8_t>(index);
  return model::IpAddress::from_v6(v6);
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvlb VIP address benchmark"};
  std::size_t vips = 10000;
  bool ipv6 = false, list_before_delete = true;
  std::string ifname = "bench0";
  app.add_option("--vips", vips);
  app.add_flag("--ipv6", ipv6, "IPv6 VIPs (default IPv4)");
  app.add_option("--list-before-delete", list_before_delete,
                 "read the interface (as the periodic full read does) between adding and deleting");
  app.add_option("--interface", ifname)->check([](const std::string& name) {
    return name.size() < 14 ? std::string() : std::string("at most 13 characters (its veth peer adds one)");
  });
  CLI11_PARSE(app, argc, argv);

  if (::unshare(CLONE_NEWNET) != 0) {
    std::cerr << "bench: unshare(CLONE_NEWNET): " << std::strerror(errno) << " (needs root)\n";
    return 1;
  }
  // A veth pair (its peer up too, so announcements really leave), as the
  // kernel tests use: dummy is not built into every kernel.
  const std::string setup = "ip link set lo up && ip link add " + ifname + " type veth peer name " + ifname +
                            "p && ip link set " + ifname + "p up && ip link set " + ifname + " up";
  if (std::system(setup.c_str()) != 0) {
    std::cerr << "bench: cannot create a veth pair\n";
    return 1;
  }
  auto table = kernel::NetlinkAddressTable::open();
  if (!table) {
    std::cerr << "bench: " << table.error().describe() << "\n";
    return 1;
  }

  std::size_t errors = 0;
  std::string first_error;
  auto check = [&](const Status& st) {
    if (st) return;
    if (errors++ == 0) first_error = st.error().describe();
  };
  auto phase = [&](auto&& body) {
    double cpu0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    body();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return nlohmann::json{
        {"wall_s", wall}, {"cpu_s", cpu_seconds() - cpu0}, {"per_vip_us", vips ? wall * 1e6 / vips : 0.0}};
  };

  auto add = phase([&] {
    for (std::size_t i = 0; i < vips; ++i) check((*table)->add_vip(ifname, vip_of(i, ipv6)));
  });
  // Right after a burst of IPv6 adds the kernel is still completing them
  // (without DAD, from its work queue), and an address dump of the
  // interface keeps coming back interrupted (EINTR) for a while.
  std::size_t listed = 0, list_attempts = 0;
  nlohmann::json list = nullptr;
  if (list_before_delete) list = phase([&] {
    for (;;) {
      ++list_attempts;
      auto got = (*table)->list(ifname);
      if (got) {
        listed = got->size();
        return;
      }
      if (got.error().code.value() != EINTR || list_attempts == 100) return check(got.error());
    }
  });
  auto remove = phase([&] {
    for (std::size_t i = 0; i < vips; ++i) check((*table)->delete_vip(ifname, vip_of(i, ipv6)));
  });
  std::size_t left = 0;
  if (auto got = (*table)->list(ifname)) left = got->size();

  nlohmann::json out = {{"vips", vips},
                        {"family", ipv6 ? "ipv6" : "ipv4"},
                        {"add", add},
                        {"list", list},
                        {"list_attempts", list_attempts},
                        {"listed_addresses", listed},
                        {"delete", remove},
                        {"addresses_left", left},
                        {"address_writes", (*table)->writes()},
                        {"announcements_sent", (*table)->announcements_sent()},
                        {"errors", errors},
                        {"first_error", first_error}};
  std::cout << out.dump(2) << "\n";
  return errors == 0 ? 0 : 1;
}
