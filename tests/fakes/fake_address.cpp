#include "fakes/fake_address.h"

#include <cerrno>

namespace kvlb::fakes {
namespace {

std::string vip_context(const char* verb, const model::IpAddress& vip, const std::string& ifname) {
  return std::string(verb) + " vip " + vip.str() + " on " + ifname;
}

}  // namespace

FakeAddressTable::FakeAddressTable(const std::vector<std::string>& interfaces) {
  for (const auto& ifname : interfaces) add_interface(ifname);
}

void FakeAddressTable::add_interface(const std::string& ifname) { interfaces_[ifname]; }

void FakeAddressTable::seed_foreign(const std::string& ifname, const model::IpPrefix& prefix) {
  interfaces_[ifname][prefix] = false;
}

void FakeAddressTable::fail_address(const model::IpAddress& ip, int err) { failures_[ip] = err; }

Result<FakeAddressTable::Addresses*> FakeAddressTable::find(const std::string& ifname,
                                                            const std::string& context) {
  auto it = interfaces_.find(ifname);
  if (it == interfaces_.end()) return Error::from_errno(ENODEV, context + ": no interface " + ifname);
  return &it->second;
}

Result<std::vector<kernel::InterfaceAddress>> FakeAddressTable::list(const std::string& ifname) {
  auto addresses = find(ifname, "list addresses on " + ifname);
  if (!addresses) return addresses.error();
  std::vector<kernel::InterfaceAddress> out;
  for (const auto& [prefix, owned] : **addresses) out.push_back({prefix, owned});
  return out;
}

Status FakeAddressTable::add_vip(const std::string& ifname, const model::IpAddress& vip) {
  const std::string context = vip_context("add", vip, ifname);
  auto addresses = find(ifname, context);
  if (!addresses) return addresses.error();
  ++writes_;
  if (auto failure = failures_.find(vip); failure != failures_.end())
    return Error::from_errno(failure->second, context);
  const model::IpPrefix host{vip, vip.max_prefix()};
  if ((*addresses)->contains(host)) return Error::from_errno(EEXIST, context);
  (**addresses)[host] = true;
  op_log_.push_back("ADD vip " + vip.str() + " on " + ifname);
  op_log_.push_back("ANNOUNCE vip " + vip.str() + " on " + ifname);
  return ok_status();
}

Status FakeAddressTable::delete_vip(const std::string& ifname, const model::IpAddress& vip) {
  const std::string context = vip_context("delete", vip, ifname);
  auto addresses = find(ifname, context);
  if (!addresses) return addresses.error();
  const model::IpPrefix host{vip, vip.max_prefix()};
  auto it = (*addresses)->find(host);
  if (it != (*addresses)->end() && !it->second)
    return Error::from_errno(EPERM, context + ": address is not tagged as kvlb's");
  ++writes_;
  if (auto failure = failures_.find(vip); failure != failures_.end())
    return Error::from_errno(failure->second, context);
  if (it == (*addresses)->end()) return Error::from_errno(EADDRNOTAVAIL, context);
  (*addresses)->erase(it);
  op_log_.push_back("DEL vip " + vip.str() + " on " + ifname);
  return ok_status();
}

Status FakeAddressTable::announce(const std::string& ifname, const model::IpAddress& vip) {
  auto addresses = find(ifname, vip_context("announce", vip, ifname));
  if (!addresses) return addresses.error();
  op_log_.push_back("ANNOUNCE vip " + vip.str() + " on " + ifname);
  return ok_status();
}

}  // namespace kvlb::fakes
