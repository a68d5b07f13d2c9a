// Programs N virtual services x M real servers from empty through kvlb's
// controller and real netlink, then changes a fraction of the endpoints;
// prints one JSON object. Optionally writes the same rule set in
// `ipvsadm --restore` format so the floor can be measured in the same run.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "daemon/controller.h"
#include "kernel/addr/netlink_address_table.h"
#include "kernel/ipvs/netlink_ipvs_table.h"
#include "kernel/nft/netlink_nat_table.h"
#include "fakes/fake_address.h"
#include "fakes/fake_ipvs.h"
#include "fakes/fake_nat.h"

namespace {

using namespace kvlb;

model::IpAddress vip_of(std::size_t index) {
  // 198.18.0.0/15 is reserved for benchmarks; ten services share each VIP.
  std::size_t v = index / 10;
  return model::IpAddress::from_v4({198, static_cast<uint8_t>(18 + v / 65536 % 2), static_cast<uint8_t>(v / 256 % 256),
                                    static_cast<uint8_t>(v % 256)});
}

model::DesiredState make_state(const std::string& ifname, std::size_t services, std::size_t endpoints,
                               model::NatMode mode) {
  model::DesiredState d;
  d.node = {"bench", ifname};
  for (std::size_t i = 0; i < services; ++i) {
    model::Service s;
    s.name = "bench/svc-" + std::to_string(i);
    s.key = {vip_of(i), static_cast<uint16_t>(10000 + i % 10), model::Protocol::Tcp};
    s.mode = mode;
    for (std::size_t e = 0; e < endpoints; ++e)
      s.endpoints.push_back({model::IpAddress::from_v4({10, static_cast<uint8_t>(1 + e), static_cast<uint8_t>(i / 256 % 256),
                                                         static_cast<uint8_t>(i % 256)}),
                             8080, 1});
    d.services.push_back(std::move(s));
  }
  return d;
}

// Sets weight 2 on `percent` % of all endpoints, spread over the services;
// returns the (service, endpoint) indexes changed. Deterministic.
std::vector<std::pair<std::size_t, std::size_t>> change_weights(model::DesiredState& d, std::size_t endpoints,
                                                                double percent) {
  std::size_t services = d.services.size();
  std::size_t to_change = static_cast<std::size_t>(services * endpoints * percent / 100.0);
  std::vector<std::pair<std::size_t, std::size_t>> changed;
  for (std::size_t i = 0; changed.size() < to_change && i < services * endpoints; ++i) {
    std::size_t s = (i * 7919) % services, e = i % endpoints;
    auto& ep = d.services[s].endpoints[e];
    if (ep.weight != 1) continue;
    ep.weight = 2;
    changed.emplace_back(s, e);
  }
  return changed;
}

void write_ipvsadm_change(const model::DesiredState& d, const std::vector<std::pair<std::size_t, std::size_t>>& changed,
                          const std::string& path) {
  std::ofstream out(path);
  for (auto [s, e] : changed) {
    const auto& svc = d.services[s];
    const auto& ep = svc.endpoints[e];
    out << "-e -t " << svc.key.vip.with_port(svc.key.port) << " -r " << ep.ip.with_port(ep.port) << " -m -w "
        << ep.weight << "\n";
  }
}

void write_ipvsadm_restore(const model::DesiredState& d, const std::string& path) {
  std::ofstream out(path);
  for (const auto& s : d.services) {
    auto vs = s.key.vip.with_port(s.key.port);
    out << "-A -t " << vs << " -s " << s.scheduler << "\n";
    for (const auto& e : s.endpoints) out << "-a -t " << vs << " -r " << e.ip.with_port(e.port) << " -m -w " << e.weight << "\n";
  }
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

struct Counts {
  uint64_t ipvs, nat, addr;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvlb programming benchmark"};
  std::size_t services = 10000, endpoints = 10;
  double change_percent = 1.0;
  std::string ifname = "bench0", mode_text = "default", restore_file;
  app.add_option("--services", services);
  app.add_option("--endpoints", endpoints);
  app.add_option("--change-percent", change_percent);
  app.add_option("--interface", ifname);
  app.add_option("--mode", mode_text)->check(CLI::IsMember({"default", "onearm", "fullnat"}));
  bool fake_kernel = false;
  app.add_flag("--fake-kernel", fake_kernel, "use the in-memory fakes (measures kvlb's own share)");
  app.add_option("--emit-ipvsadm", restore_file, "write the rule set for ipvsadm --restore (and FILE.change: the same 1% change) and exit");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the op log of 110,000 ops is not what is measured

  auto desired = make_state(ifname, services, endpoints, *model::parse_nat_mode(mode_text));
  if (!restore_file.empty()) {
    write_ipvsadm_restore(desired, restore_file);
    auto changed = change_weights(desired, endpoints, change_percent);
    write_ipvsadm_change(desired, changed, restore_file + ".change");
    return 0;
  }

  std::unique_ptr<kernel::IpvsTable> ipvs;
  std::unique_ptr<kernel::NatTable> nat;
  std::unique_ptr<kernel::AddressTable> addresses;
  if (fake_kernel) {
    // kvlb's own share of the work: the same controller against the in-memory fakes.
    ipvs = std::make_unique<fakes::FakeIpvsTable>();
    nat = std::make_unique<fakes::FakeNatTable>();
    auto fake_addresses = std::make_unique<fakes::FakeAddressTable>();
    fake_addresses->add_interface(ifname);
    addresses = std::move(fake_addresses);
  } else {
    auto real_ipvs = kernel::NetlinkIpvsTable::open();
    auto real_nat = kernel::NetlinkNatTable::open();
    auto real_addresses = kernel::NetlinkAddressTable::open();
    if (!real_ipvs.ok() || !real_nat.ok() || !real_addresses.ok()) {
      std::cerr << "bench: cannot open netlink\n";
      return 1;
    }
    ipvs = std::move(*real_ipvs);
    nat = std::move(*real_nat);
    addresses = std::move(*real_addresses);
  }
  SteadyClock clock;
  daemon::KernelPorts ports{*ipvs, *nat, *addresses};
  daemon::Controller controller(ports, clock);
  auto counts = [&] { return Counts{ipvs->writes(), nat->writes(), addresses->writes()}; };

  auto run = [&](bool full) {
    auto before = counts();
    double cpu0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    auto report = controller.reconcile(full);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_seconds() - cpu0;
    auto after = counts();
    return nlohmann::json{{"wall_s", wall},
                          {"cpu_s", cpu},
                          {"ops", report.op_count},
                          {"errors", report.errors.size()},
                          {"first_error", report.errors.empty() ? "" : report.errors.front()},
                          {"ipvs_messages", after.ipvs - before.ipvs},
                          {"nft_batches", after.nat - before.nat},
                          {"address_messages", after.addr - before.addr},
                          {"kernel_read", report.full_read}};
  };

  controller.set_desired(desired);
  auto cold = run(true);

  auto changed = change_weights(desired, endpoints, change_percent).size();
  controller.set_desired(desired);
  auto change = run(false);
  auto idle = run(false);
  auto resync = run(true);  // the periodic full read of the kernel, nothing to change

  nlohmann::json out = {{"services", services},
                        {"endpoints_per_service", endpoints},
                        {"mode", mode_text},
                        {"cold", cold},
                        {"change", change},
                        {"changed_endpoints", changed},
                        {"unchanged_second_apply", idle},
                        {"resync_full_read", resync},
                        {"peak_rss_kib", peak_rss_kib()}};
  std::cout << out.dump(2) << "\n";
  return cold["errors"] == 0 && change["errors"] == 0 ? 0 : 1;
}
