#include "kernel/nft/nat_render.h"

#include <vector>

#include "kernel/nft/nat_layout.h"
#include "kernel/nft/nat_table.h"

namespace kvlb::kernel {
namespace {

std::string element_text(const model::SnatRule& rule) {
  return rule.match.vip.str() + " . " + std::string(model::to_string(rule.match.protocol)) + " . " +
         std::to_string(rule.match.port) + " : " + rule.to.str();
}

// nft's layout for elements: `per_line` to a line (one for map elements and
// IPv6 addresses, two for IPv4 addresses), continuation lines indented with
// three tabs and five spaces (under "elements = { ").
std::string elements_block(const std::vector<std::string>& elements, std::size_t per_line = 1) {
  if (elements.empty()) return "";
  std::string out = "\t\telements = { ";
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (i) out += i % per_line ? ", " : ",\n\t\t\t     ";
    out += elements[i];
  }
  return out + " }\n";
}

std::string map_block(const char* name, const char* address_type, const std::vector<std::string>& elements) {
  return std::string("\tmap ") + name + " {\n\t\ttype " + address_type + " . inet_proto . inet_service : " +
         address_type + "\n" + elements_block(elements) + "\t}\n";
}

}  // namespace

// The kernel does not report a direction for `ct protocol` (it is the same
// both ways), so nft lists it without "original".
std::string render_nft_text(const std::set<model::SnatRule>& snat, const std::set<model::IpAddress>& dropped_vips) {
  std::vector<std::string> v4, v6, drop4, drop6;
  for (const auto& rule : snat) (rule.match.vip.is_v4() ? v4 : v6).push_back(element_text(rule));
  for (const auto& vip : dropped_vips) (vip.is_v4() ? drop4 : drop6).push_back(vip.str());

  std::string out = std::string("table inet ") + kNatTableName + " {\n";
  out += map_block(kSnatMap4, "ipv4_addr", v4) + "\n";
  out += map_block(kSnatMap6, "ipv6_addr", v6) + "\n";
  out += std::string("\tset ") + kDropVipSet4 + " {\n\t\ttype ipv4_addr\n" + elements_block(drop4, 2) + "\t}\n\n";
  out += std::string("\tset ") + kDropVipSet6 + " {\n\t\ttype ipv6_addr\n" + elements_block(drop6) + "\t}\n\n";
  out += std::string("\tchain ") + kPostroutingChain + " {\n"
         "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
         "\t\tmeta nfproto ipv4 snat ip to ct original ip daddr . ct protocol . ct original proto-dst map @" +
         kSnatMap4 + "\n"
         "\t\tmeta nfproto ipv6 snat ip6 to ct original ip6 daddr . ct protocol . ct original proto-dst map @" +
         kSnatMap6 + "\n\t}\n\n";
  out += std::string("\tchain ") + kGuardChain + " {\n"
         "\t\ttype filter hook prerouting priority raw; policy accept;\n"
         "\t\tip daddr @" + kDropVipSet4 + " drop\n"
         "\t\tip6 daddr @" + kDropVipSet6 + " drop\n\t}\n";
  return out + "}\n";
}

}  // namespace kvlb::kernel
