#pragma once
// Helpers shared by the nft tests: building rules, hex, and test data files.
#include <cstdint>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/types.h"

#include "kernel/nft/nat_table.h"

namespace kvlb::nft_test {

inline model::IpAddress ip(std::string_view text) { return *model::IpAddress::parse(text); }

inline model::SnatRule snat(std::string_view vip, uint16_t port, model::Protocol protocol, std::string_view to) {
  return model::SnatRule{model::VsKey{ip(vip), port, protocol}, ip(to)};
}

inline std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

inline std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

inline std::string test_data_path(const std::string& relative) { return std::string(KVLB_TEST_DATA_DIR) + "/" + relative; }

inline std::string read_text(const std::string& relative) {
  std::ifstream in(test_data_path(relative));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// "<name> <hex>" lines, '#' comments skipped; names may repeat.
inline std::vector<std::pair<std::string, std::vector<uint8_t>>> read_named_hex(const std::string& relative) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  std::istringstream lines(read_text(relative));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find(' ');
    out.emplace_back(line.substr(0, space), from_hex(line.substr(space + 1)));
  }
  return out;
}

// Sample entries shared by the fake's and the kernel's tests.
inline const model::SnatRule kWeb = snat("20.20.20.1", 80, model::Protocol::Tcp, "20.20.20.1");
inline const model::SnatRule kDns = snat("20.20.20.1", 53, model::Protocol::Udp, "20.20.20.1");
inline const model::SnatRule kWeb6 = snat("fd00::1", 80, model::Protocol::Tcp, "fd00::1");

inline kernel::NatBatch recreate_with(std::vector<model::SnatRule> add) {
  kernel::NatBatch batch;
  batch.recreate_table = true;
  batch.add = std::move(add);
  return batch;
}

}  // namespace kvlb::nft_test
