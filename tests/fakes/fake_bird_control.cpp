#include "fakes/fake_bird_control.h"

namespace kvlb::fakes {

using bgp::BirdError;

std::optional<BirdError> FakeBirdControl::socket_call(const std::string& op, const std::string& operation) {
  if (failure == Failure::None || (failing_op && *failing_op != op)) return std::nullopt;
  if (failure == Failure::NotRunning)
    return BirdError{BirdError::Kind::NotRunning, operation, socket_path, 0,
                     "not running (connect: No such file or directory)"};
  return BirdError{BirdError::Kind::Timeout, operation, socket_path, 0, "no complete reply within 5000 ms"};
}

bgp::BirdDone FakeBirdControl::configure(const std::string& path) {
  ops.push_back("CONFIGURE " + path);
  const std::string operation = "configure \"" + path + "\"";
  if (auto error = socket_call("CONFIGURE", operation)) return *error;
  if (auto invalid = invalid_configs.find(path); invalid != invalid_configs.end())
    return BirdError{BirdError::Kind::InvalidConfig, operation, socket_path, 8002, invalid->second};
  running_config = path;
  ++reconfigurations;
  if (auto shown = shown_by_config.find(path); shown != shown_by_config.end()) {
    protocols_now = shown->second.protocols;
    routes_now = shown->second.routes;
  }
  return std::monostate{};
}

bgp::BirdDone FakeBirdControl::check_config_in_daemon(const std::string& path) {
  ops.push_back("DAEMON CHECK " + path);
  const std::string operation = "configure check \"" + path + "\"";
  if (auto error = socket_call("DAEMON CHECK", operation)) return *error;
  if (auto invalid = invalid_configs.find(path); invalid != invalid_configs.end())
    return BirdError{BirdError::Kind::InvalidConfig, operation, socket_path, 8002, invalid->second};
  return std::monostate{};
}

bgp::BirdDone FakeBirdControl::check_config(const std::string& path) {
  ops.push_back("CHECK " + path);
  if (auto invalid = invalid_configs.find(path); invalid != invalid_configs.end())
    return BirdError{BirdError::Kind::InvalidConfig, "-p -c " + path, "", 0, invalid->second};
  return std::monostate{};
}

bgp::BirdResult<std::vector<bgp::BirdProtocol>> FakeBirdControl::protocols() {
  ops.emplace_back("PROTOCOLS");
  if (auto error = socket_call("PROTOCOLS", "show protocols all")) return *error;
  return protocols_now;
}

bgp::BirdResult<bgp::BirdRouteCount> FakeBirdControl::route_count() {
  ops.emplace_back("ROUTE COUNT");
  if (auto error = socket_call("ROUTE COUNT", "show route count")) return *error;
  return routes_now;
}

bgp::BirdResult<bgp::BirdDaemonStatus> FakeBirdControl::status() {
  ops.emplace_back("STATUS");
  if (auto error = socket_call("STATUS", "show status")) return *error;
  return status_now;
}

const bgp::BirdProtocol* FakeBirdControl::protocol(const std::string& name) const {
  for (const auto& protocol : protocols_now)
    if (protocol.name == name) return &protocol;
  return nullptr;
}

}  // namespace kvlb::fakes
