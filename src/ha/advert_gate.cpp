#include "ha/advert_gate.h"

#include <utility>

namespace kvlb::ha {

const char* to_string(DropReason reason) {
  switch (reason) {
    case DropReason::Malformed: return "malformed";
    case DropReason::BadAuth: return "bad auth";
    case DropReason::Replayed: return "replayed";
    case DropReason::SourceMismatch: return "source mismatch";
    case DropReason::UnknownPeer: return "unknown peer";
    case DropReason::UnknownInstance: return "unknown instance";
  }
  return "unknown";
}

std::string Dropped::describe() const {
  return detail.empty() ? to_string(reason) : std::string(to_string(reason)) + ": " + detail;
}

AdvertGate::AdvertGate(GateConfig config, const WallClock& clock)
    : config_(std::move(config)), peers_(config_.peers.begin(), config_.peers.end()), clock_(clock) {}

Dropped AdvertGate::drop(DropReason reason, std::string detail) {
  switch (reason) {
    case DropReason::Malformed: ++counters_.malformed; break;
    case DropReason::BadAuth: ++counters_.bad_auth; break;
    case DropReason::Replayed: ++counters_.replayed; break;
    case DropReason::SourceMismatch: ++counters_.source_mismatch; break;
    case DropReason::UnknownPeer: ++counters_.unknown_peer; break;
    case DropReason::UnknownInstance: ++counters_.unknown_instance; break;
  }
  return Dropped{reason, std::move(detail)};
}

Admission AdvertGate::admit(std::span<const uint8_t> packet, const model::IpAddress& source) {
  ++counters_.received;
  auto decoded = decode_advert(packet, config_.key);
  if (!decoded) {
    const auto& error = decoded.error();
    auto reason = error.code == AdvertError::BadAuth ? DropReason::BadAuth : DropReason::Malformed;
    return drop(reason, error.describe() + " from " + source.str());
  }
  Advert advert = std::move(decoded).value();
  const std::string from = " from " + advert.sender.str();

  if (advert.sender != source)
    return drop(DropReason::SourceMismatch, "sender " + advert.sender.str() + " sent from " + source.str());
  if (!peers_.contains(advert.sender)) return drop(DropReason::UnknownPeer, advert.sender.str());
  auto instance = config_.instances.find(advert.instance);
  if (instance == config_.instances.end())
    return drop(DropReason::UnknownInstance, "instance " + advert.instance + from);

  // Sequences are the sender's wall clock, so a recorded advert is refused
  // even after a restart emptied last_sequence_.
  const uint64_t now = clock_.now_ns();
  const auto window = static_cast<uint64_t>(std::chrono::nanoseconds(config_.max_clock_offset).count());
  if (advert.sequence < now && now - advert.sequence > window)
    return drop(DropReason::Replayed, "advert " + std::to_string((now - advert.sequence) / 1000000) + " ms old" + from);
  if (advert.sequence > now && advert.sequence - now > window)
    return drop(DropReason::Replayed,
                "advert " + std::to_string((advert.sequence - now) / 1000000) + " ms in the future" + from);
  SequenceKey key{advert.sender, advert.instance, advert.probe};
  auto last = last_sequence_.find(key);
  if (last != last_sequence_.end() && advert.sequence <= last->second)
    return drop(DropReason::Replayed,
                "sequence " + std::to_string(advert.sequence) + " not after " + std::to_string(last->second) + from);
  last_sequence_[key] = advert.sequence;

  ++counters_.accepted;
  // Probes only say the sync link is alive; they carry no configuration.
  bool mismatch = !advert.probe && advert.config_digest != instance->second;
  if (mismatch) ++counters_.config_mismatch;
  return Accepted{std::move(advert), mismatch};
}

void AdvertGate::set_digests(const std::map<std::string, uint32_t>& digests) {
  for (auto& [name, digest] : config_.instances)
    if (auto it = digests.find(name); it != digests.end()) digest = it->second;
}

}  // namespace kvlb::ha
