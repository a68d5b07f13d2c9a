#pragma once
// BirdControl with BIRD modelled as "the config file it runs" plus the
// protocols and route counts each config file yields. configure of a file
// scripted as invalid fails with BIRD's message and keeps the running config,
// as BIRD does. A stopped or hung daemon is injected as the error the socket
// control would return; check_config needs no daemon, as `bird -p` needs none.
// Every call is logged: "CONFIGURE <path>", "CHECK <path>", "DAEMON CHECK
// <path>", "PROTOCOLS",
// "ROUTE COUNT", "STATUS".
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bgp/bird/bird_control.h"

namespace kvlb::fakes {

class FakeBirdControl final : public bgp::BirdControl {
 public:
  enum class Failure { None, NotRunning, Timeout };

  // What BIRD shows while running a config file; configure switches to the
  // entry of the new file (unchanged when it has none).
  struct Shown {
    std::vector<bgp::BirdProtocol> protocols;
    bgp::BirdRouteCount routes;
  };
  std::map<std::string, Shown> shown_by_config;
  // Files that do not parse, with BIRD's message ("/x.conf:3:17 syntax error, unexpected S").
  std::map<std::string, std::string> invalid_configs;

  std::optional<std::string> running_config;  // the last file configure loaded
  std::vector<bgp::BirdProtocol> protocols_now;
  bgp::BirdRouteCount routes_now;
  bgp::BirdDaemonStatus status_now{"2.0.12", "10.0.0.1", "", "", "Daemon is up and running"};
  int reconfigurations = 0;

  Failure failure = Failure::None;
  std::optional<std::string> failing_op;  // "CONFIGURE", "PROTOCOLS"...; unset: every socket op fails
  std::string socket_path = "/run/bird/bird.ctl";

  std::vector<std::string> ops;  // every call, failed ones too

  bgp::BirdDone configure(const std::string& path) override;
  bgp::BirdDone check_config(const std::string& path) override;
  bgp::BirdDone check_config_in_daemon(const std::string& path) override;
  bgp::BirdResult<std::vector<bgp::BirdProtocol>> protocols() override;
  bgp::BirdResult<bgp::BirdRouteCount> route_count() override;
  bgp::BirdResult<bgp::BirdDaemonStatus> status() override;

  // The protocol named `name` as protocols() would return it, if any.
  const bgp::BirdProtocol* protocol(const std::string& name) const;

 private:
  std::optional<bgp::BirdError> socket_call(const std::string& op, const std::string& operation);
};

}  // namespace kvlb::fakes
