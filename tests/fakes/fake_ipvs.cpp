#include "fakes/fake_ipvs.h"

#include <cerrno>
#include <cstdint>

#include "kernel/ipvs/ipvs_command_text.h"

namespace kvlb::fakes {
namespace {

using kernel::IpvsCommand;
using Kind = IpvsCommand::Kind;

std::string settings_text(const model::VirtualService& service) {
  std::string text = service.scheduler;
  if (service.persistence_seconds > 0) text += " persistent " + std::to_string(service.persistence_seconds);
  return text;
}

// What the kernel accepts as a real-server address (ip_vs_new_dest): unicast,
// and for IPv6 not link-local.
bool is_acceptable_destination(const model::IpAddress& ip) {
  const uint8_t* b = ip.data();
  if (ip.is_v4()) {
    bool zero_net = b[0] == 0;
    bool multicast = (b[0] & 0xf0) == 0xe0;
    bool broadcast = b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255;
    return !zero_net && !multicast && !broadcast;
  }
  bool unspecified = true;
  for (std::size_t i = 0; i < 16; ++i) unspecified = unspecified && b[i] == 0;
  bool multicast = b[0] == 0xff;
  bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
  return !unspecified && !multicast && !link_local;
}

// What an add or update programs besides the command's settings (see
// ipvs_codec.h): the observed-only fields go back to kvlb's values.
void program_fixed_settings(model::VirtualService& service) {
  service.netmask_bits = model::VirtualService::kFullNetmask;
  service.extra_flags = 0;
}

void program_fixed_settings(model::RealServer& server) {
  server.masquerade = true;
  server.upper_threshold = 0;
  server.lower_threshold = 0;
}

}  // namespace

Result<std::vector<model::VirtualService>> FakeIpvsTable::list() {
  if (list_error_) return Error::from_errno(*list_error_, "list ipvs services");
  std::vector<model::VirtualService> out;
  out.reserve(services.size());
  for (const auto& [key, service] : services) out.push_back(service);
  return out;
}

std::vector<Status> FakeIpvsTable::apply(const std::vector<IpvsCommand>& commands) {
  std::vector<Status> statuses;
  statuses.reserve(commands.size());
  for (const auto& command : commands) {
    ++writes_;
    statuses.push_back(apply_one(command));
  }
  return statuses;
}

void FakeIpvsTable::fail_service(const model::VsKey& service, int err) { service_failures_[service] = err; }

void FakeIpvsTable::fail_real_server(const model::VsKey& service, const model::RealServerKey& server, int err) {
  server_failures_[{service, server}] = err;
}

void FakeIpvsTable::clear_failures() {
  service_failures_.clear();
  server_failures_.clear();
  list_error_.reset();
}

model::RealServer* FakeIpvsTable::find_real_server(const model::VsKey& service, const model::RealServerKey& server) {
  auto s = services.find(service);
  if (s == services.end()) return nullptr;
  auto r = s->second.real_servers.find(server);
  return r == s->second.real_servers.end() ? nullptr : &r->second;
}

bool FakeIpvsTable::route_directly(const model::VsKey& service, const model::RealServerKey& server) {
  model::RealServer* found = find_real_server(service, server);
  if (found) found->masquerade = false;
  return found != nullptr;
}

bool FakeIpvsTable::set_thresholds(const model::VsKey& service, const model::RealServerKey& server, uint32_t upper,
                                   uint32_t lower) {
  model::RealServer* found = find_real_server(service, server);
  if (!found) return false;
  found->upper_threshold = upper;
  found->lower_threshold = lower;
  return true;
}

bool FakeIpvsTable::set_netmask_bits(const model::VsKey& service, uint32_t bits) {
  auto s = services.find(service);
  if (s == services.end()) return false;
  s->second.netmask_bits = bits;
  return true;
}

bool FakeIpvsTable::set_extra_flags(const model::VsKey& service, uint32_t flags) {
  auto s = services.find(service);
  if (s == services.end()) return false;
  s->second.extra_flags = flags;
  return true;
}

std::optional<int> FakeIpvsTable::injected_error(const IpvsCommand& command) const {
  const model::VsKey& key = command.service.key;
  if (auto it = service_failures_.find(key); it != service_failures_.end()) return it->second;
  if (kernel::is_real_server_command(command.kind)) {
    if (auto it = server_failures_.find({key, command.real_server.key}); it != server_failures_.end())
      return it->second;
  }
  return std::nullopt;
}

// Checks happen in the kernel's order, so a command with several faults
// gets the same error as from the kernel.
Status FakeIpvsTable::apply_one(const IpvsCommand& command) {
  const std::string context = kernel::command_context(command);
  auto fail = [&](int err) { return Status(Error::from_errno(err, context)); };
  if (auto err = injected_error(command)) return fail(*err);

  const model::VsKey& key = command.service.key;
  auto service = services.find(key);
  if (command.kind != Kind::AddService && service == services.end()) return fail(ESRCH);

  switch (command.kind) {
    case Kind::AddService: {
      if (service != services.end()) return fail(EEXIST);
      if (!model::is_known_scheduler(command.service.scheduler)) return fail(ENOENT);
      model::VirtualService added = command.service;
      added.real_servers.clear();
      program_fixed_settings(added);
      services.emplace(key, added);
      op_log_.push_back(context + " " + settings_text(added));
      return ok_status();
    }
    case Kind::UpdateService: {
      if (!model::is_known_scheduler(command.service.scheduler)) return fail(ENOENT);
      service->second.scheduler = command.service.scheduler;
      service->second.persistence_seconds = command.service.persistence_seconds;
      program_fixed_settings(service->second);
      op_log_.push_back(context + " " + settings_text(service->second));
      return ok_status();
    }
    case Kind::DeleteService:
      services.erase(service);
      op_log_.push_back(context);
      return ok_status();
    default:
      break;
  }

  // Real-server commands.
  const model::RealServer& wanted = command.real_server;
  auto& servers = service->second.real_servers;
  auto server = servers.find(wanted.key);
  if (command.kind != Kind::DeleteRealServer) {
    if (wanted.key.ip.family() != key.vip.family()) return fail(EINVAL);
    if (wanted.weight > static_cast<uint32_t>(INT32_MAX)) return fail(ERANGE);
  }
  switch (command.kind) {
    case Kind::AddRealServer: {
      if (server != servers.end()) return fail(EEXIST);
      if (!is_acceptable_destination(wanted.key.ip)) return fail(EINVAL);
      model::RealServer added = wanted;
      added.active_conns = 0;
      added.inactive_conns = 0;
      program_fixed_settings(added);
      servers.emplace(wanted.key, added);
      op_log_.push_back(context + " weight " + std::to_string(wanted.weight));
      return ok_status();
    }
    case Kind::UpdateRealServer:
      if (server == servers.end()) return fail(ENOENT);
      server->second.weight = wanted.weight;
      program_fixed_settings(server->second);
      op_log_.push_back(context + " weight " + std::to_string(wanted.weight));
      return ok_status();
    case Kind::DeleteRealServer:
      if (server == servers.end()) return fail(ENOENT);
      servers.erase(server);
      op_log_.push_back(context);
      return ok_status();
    default:
      return fail(EINVAL);
  }
}

}  // namespace kvlb::fakes
