#include "daemon/managed_store.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace kvlb::daemon {

Result<std::set<model::VsKey>> ManagedStore::load() const {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return std::set<model::VsKey>{};
    return Error::from_errno(errno, "read " + path_);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("services") || !json["services"].is_array())
    return Error::invalid("read " + path_ + ": not a kvlb state file");
  std::set<model::VsKey> keys;
  for (const auto& item : json["services"]) {
    if (!item.is_object() || !item.value("vip", nlohmann::json()).is_string() ||
        !item.value("port", nlohmann::json()).is_number_unsigned() ||
        !item.value("protocol", nlohmann::json()).is_string())
      return Error::invalid("read " + path_ + ": bad entry " + item.dump());
    auto vip = model::IpAddress::parse(item["vip"].get<std::string>());
    auto proto = model::parse_protocol(item["protocol"].get<std::string>());
    auto port = item["port"].get<uint64_t>();
    if (!vip || !proto || port == 0 || port > 65535) return Error::invalid("read " + path_ + ": bad entry " + item.dump());
    keys.insert({*vip, static_cast<uint16_t>(port), *proto});
  }
  return keys;
}

Status ManagedStore::save(const std::set<model::VsKey>& keys) const {
  nlohmann::json services = nlohmann::json::array();
  for (const auto& key : keys)
    services.push_back({{"vip", key.vip.str()}, {"port", key.port}, {"protocol", std::string(to_string(key.protocol))}});
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Error::from_errno(errno, "write " + tmp);
    out << nlohmann::json{{"services", services}}.dump(1) << "\n";
    if (!out.flush()) return Error::from_errno(errno ? errno : EIO, "write " + tmp);
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return Error::from_errno(errno, "rename " + tmp);
  return ok_status();
}

}  // namespace kvlb::daemon
