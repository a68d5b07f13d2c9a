#include "fakes/fake_conntrackd.h"

namespace kvlb::fakes {

using ha::ConntrackdCommand;
using ha::ConntrackdError;

std::optional<ConntrackdError> FakeConntrackdControl::call(ConntrackdCommand command) {
  ops.emplace_back(ha::conntrackd_command_name(command));
  if (failure == Failure::None || (failing_command && *failing_command != command)) return std::nullopt;
  if (failure == Failure::Dead)
    return ConntrackdError{ConntrackdError::Kind::NotRunning, command, socket_path,
                           "not running (connect: No such file or directory)"};
  return ConntrackdError{ConntrackdError::Kind::Timeout, command, socket_path, "no complete answer within 5000 ms"};
}

ha::ConntrackdStatus FakeConntrackdControl::commit() {
  if (auto error = call(ConntrackdCommand::Commit)) return *error;
  kernel_table.insert(external_cache.begin(), external_cache.end());
  return std::monostate{};
}

ha::ConntrackdStatus FakeConntrackdControl::flush_caches() {
  if (auto error = call(ConntrackdCommand::FlushCaches)) return *error;
  internal_cache.clear();
  external_cache.clear();
  return std::monostate{};
}

ha::ConntrackdStatus FakeConntrackdControl::resync_from_kernel() {
  if (auto error = call(ConntrackdCommand::ResyncFromKernel)) return *error;
  internal_cache = kernel_table;
  return std::monostate{};
}

ha::ConntrackdStatus FakeConntrackdControl::send_bulk() {
  if (auto error = call(ConntrackdCommand::SendBulk)) return *error;
  ++bulks_sent;
  return std::monostate{};
}

ha::ConntrackdStatus FakeConntrackdControl::request_resync() {
  if (auto error = call(ConntrackdCommand::RequestResync)) return *error;
  ++resyncs_requested;
  return std::monostate{};
}

ha::ConntrackdStatus FakeConntrackdControl::shorten_timers() {
  if (auto error = call(ConntrackdCommand::ShortenTimers)) return *error;
  timers_shortened = true;
  return std::monostate{};
}

Result<std::string, ConntrackdError> FakeConntrackdControl::stats() {
  if (auto error = call(ConntrackdCommand::Stats)) return *error;
  return "cache internal:\ncurrent active connections:\t" + std::to_string(internal_cache.size()) +
         "\ncache external:\ncurrent active connections:\t" + std::to_string(external_cache.size()) + "\n";
}

ha::ConntrackdStatus FakeConntrackdControl::shutdown() {
  if (auto error = call(ConntrackdCommand::Shutdown)) return *error;
  failure = Failure::Dead;
  failing_command.reset();
  return std::monostate{};
}

}  // namespace kvlb::fakes
