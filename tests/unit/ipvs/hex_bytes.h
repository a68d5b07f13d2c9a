#pragma once
// Expected netlink bytes written as hex, one field per string, so tests read
// like a layout table: bytes({"06 00 01 00", "02 00 00 00"}).
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace kvlb::testing {

inline std::vector<uint8_t> bytes(std::initializer_list<std::string_view> fields) {
  std::vector<uint8_t> out;
  for (std::string_view field : fields) {
    std::string digits;
    for (char c : field)
      if (c != ' ') digits += c;
    if (digits.size() % 2 != 0) std::abort();  // a typo in the expected bytes
    for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
      out.push_back(static_cast<uint8_t>(std::strtoul(digits.substr(i, 2).c_str(), nullptr, 16)));
  }
  return out;
}

}  // namespace kvlb::testing
