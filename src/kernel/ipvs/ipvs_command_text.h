#pragma once
// Human-readable names of IPVS commands, shared by the netlink table (error
// contexts) and the fake (op log), so both report failures the same way.
// Header-only on purpose: the fake must not link the netlink library.
#include <string>

#include "kernel/ipvs/ipvs_table.h"

namespace kvlb::kernel {

inline bool is_real_server_command(IpvsCommand::Kind kind) {
  return kind == IpvsCommand::Kind::AddRealServer || kind == IpvsCommand::Kind::UpdateRealServer ||
         kind == IpvsCommand::Kind::DeleteRealServer;
}

// "add vs 20.20.20.1:80/tcp", "delete rs 20.20.20.1:80/tcp -> 10.0.1.11:8080"
inline std::string command_context(const IpvsCommand& command) {
  using Kind = IpvsCommand::Kind;
  const char* verb = "?";
  switch (command.kind) {
    case Kind::AddService:
    case Kind::AddRealServer: verb = "add"; break;
    case Kind::UpdateService:
    case Kind::UpdateRealServer: verb = "update"; break;
    case Kind::DeleteService:
    case Kind::DeleteRealServer: verb = "delete"; break;
  }
  std::string text = std::string(verb) + (is_real_server_command(command.kind) ? " rs " : " vs ");
  text += command.service.key.str();
  if (is_real_server_command(command.kind)) text += " -> " + command.real_server.key.str();
  return text;
}

}  // namespace kvlb::kernel
