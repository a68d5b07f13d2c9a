#include "bgp/bird/bird_reply.h"

#include <charconv>
#include <utility>

namespace kvlb::bgp {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::size_t indent_of(std::string_view text) {
  const auto first = text.find_first_not_of(' ');
  return first == std::string_view::npos ? text.size() : first;
}

// Splits on runs of spaces.
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto start = text.find_first_not_of(' ', at);
    if (start == std::string_view::npos) break;
    auto end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    at = end;
  }
  return out;
}

template <typename Number>
bool to_number(std::string_view text, Number& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// "Key:   value" -> {"Key", "value"}; no colon: {text, ""}.
std::pair<std::string_view, std::string_view> key_value(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return {trim(text), {}};
  return {trim(text.substr(0, colon)), trim(text.substr(colon + 1))};
}

// "3 imported, 1 filtered, 0 exported, 3 preferred"
bool parse_routes_line(std::string_view text, BirdChannel& channel) {
  bool any = false;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto part = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto fields = words(part);
    std::uint32_t count = 0;
    if (fields.size() != 2 || !to_number(fields[0], count)) return false;
    if (fields[1] == "imported") channel.imported = count;
    else if (fields[1] == "filtered") channel.filtered = count;
    else if (fields[1] == "exported") channel.exported = count;
    else if (fields[1] == "preferred") channel.preferred = count;
    any = true;
  }
  return any;
}

// The summary line of one protocol:
// "peer1      BGP        ---        start  09:36:14.262  Active"
// Name, protocol, table and state never hold spaces; the time may (an ISO
// format), and BIRD puts at least two spaces between it and the info.
Result<BirdProtocol, std::string> parse_protocol_line(std::string_view text) {
  BirdProtocol protocol;
  std::string_view rest = text;
  std::string* fields[] = {&protocol.name, &protocol.proto, &protocol.table, &protocol.state};
  for (std::string* field : fields) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return "protocol line with too few fields: \"" + std::string(text) + "\"";
    auto end = rest.find(' ', start);
    if (end == std::string_view::npos) end = rest.size();
    *field = std::string(rest.substr(start, end - start));
    rest = rest.substr(end);
  }
  rest = trim(rest);
  const auto gap = rest.find("  ");
  protocol.since = std::string(trim(rest.substr(0, gap)));
  if (gap != std::string_view::npos) protocol.info = std::string(trim(rest.substr(gap)));
  if (protocol.since.empty()) return "protocol line without a time: \"" + std::string(text) + "\"";
  return protocol;
}

// One line of a protocol's `show protocols all` block. Protocol-level lines
// are indented by two spaces ("  BGP state: ...", "  Channel ipv4"), channel
// lines by four ("    Routes: ..."); deeper ones (statistics, capabilities) are skipped.
std::optional<std::string> parse_detail_line(std::string_view text, BirdProtocol& protocol, bool& in_channel) {
  const std::size_t indent = indent_of(text);
  const std::string_view body = trim(text);
  if (body.empty()) return std::nullopt;
  if (indent <= 2) {
    if (body.starts_with("Channel ")) {
      BirdChannel channel;
      channel.name = std::string(trim(body.substr(8)));
      protocol.channels.push_back(std::move(channel));
      in_channel = true;
      return std::nullopt;
    }
    in_channel = false;
    const auto [key, value] = key_value(body);
    if (key == "Description") {
      protocol.description = std::string(value);
      return std::nullopt;
    }
    if (key == "BGP state") {
      if (!protocol.bgp) protocol.bgp.emplace();
      protocol.bgp->state = std::string(value);
    }
    return std::nullopt;
  }
  if (indent == 4 && in_channel && !protocol.channels.empty()) {
    BirdChannel& channel = protocol.channels.back();
    const auto [key, value] = key_value(body);
    if (key == "State") channel.state = std::string(value);
    else if (key == "Table") channel.table = std::string(value);
    else if (key == "Routes" && !parse_routes_line(value, channel))
      return "unreadable routes line: \"" + std::string(body) + "\"";
    return std::nullopt;
  }
  if (indent == 4 && protocol.bgp) {
    const auto [key, value] = key_value(body);
    BirdBgpSession& bgp = *protocol.bgp;
    if (key == "Neighbor address") bgp.neighbor_address = std::string(value);
    else if (key == "Neighbor AS" && !to_number(value, bgp.neighbor_as))
      return "unreadable neighbor AS: \"" + std::string(body) + "\"";
    else if (key == "Local AS" && !to_number(value, bgp.local_as))
      return "unreadable local AS: \"" + std::string(body) + "\"";
    else if (key == "Neighbor ID") bgp.neighbor_id = std::string(value);
    else if (key == "Source address") bgp.source_address = std::string(value);
    else if (key == "Last error") bgp.last_error = std::string(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> BirdReplyReader::line(std::string_view text) {
  if (text.starts_with('+')) return std::nullopt;  // asynchronous log echo
  if (text.starts_with(' ')) {
    if (continued_code_ < 0) return "continuation line without a reply to continue: \"" + std::string(text) + "\"";
    lines_.push_back({continued_code_, std::string(text.substr(1))});
    return std::nullopt;
  }
  int code = -1;
  const bool numbered = text.size() >= 5 && to_number(text.substr(0, 4), code) && code >= 0 &&
                        (text[4] == ' ' || text[4] == '-');
  if (!numbered) return "not a BIRD reply line: \"" + std::string(text) + "\"";
  lines_.push_back({code, std::string(text.substr(5))});
  if (text[4] == '-') {
    continued_code_ = code;
    return std::nullopt;
  }
  continued_code_ = -1;
  complete_.push_back(BirdReply{std::move(lines_)});
  lines_.clear();
  return std::nullopt;
}

std::optional<std::string> BirdReplyReader::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      partial_.append(bytes);
      if (partial_.size() > kMaxLine) return "line longer than " + std::to_string(kMaxLine) + " bytes";
      return std::nullopt;
    }
    partial_.append(bytes.substr(0, newline));
    bytes.remove_prefix(newline + 1);
    std::string text = std::move(partial_);
    partial_.clear();
    if (text.size() > kMaxLine) return "line longer than " + std::to_string(kMaxLine) + " bytes";
    if (auto error = line(text)) return error;
  }
  return std::nullopt;
}

std::optional<BirdReply> BirdReplyReader::next() {
  if (complete_.empty()) return std::nullopt;
  BirdReply reply = std::move(complete_.front());
  complete_.pop_front();
  return reply;
}

Result<BirdReply, std::string> parse_bird_reply(std::string_view text) {
  BirdReplyReader reader;
  std::string input(text);
  if (!input.empty() && input.back() != '\n') input += '\n';
  if (auto error = reader.feed(input)) return *error;
  auto reply = reader.next();
  if (!reply) return std::string("no final line (\"DDDD text\")");
  if (reader.next() || reader.mid_reply()) return std::string("more than one reply");
  return std::move(*reply);
}

std::optional<std::string> parse_bird_hello(const BirdReply& reply) {
  const std::string& text = reply.message();
  constexpr std::string_view kPrefix = "BIRD ", kSuffix = " ready.";
  if (reply.code() != bird_code::kWelcome || reply.lines.size() != 1 || !text.starts_with(kPrefix) ||
      !text.ends_with(kSuffix) || text.size() <= kPrefix.size() + kSuffix.size())
    return std::nullopt;
  return text.substr(kPrefix.size(), text.size() - kPrefix.size() - kSuffix.size());
}

Result<std::vector<BirdProtocol>, std::string> parse_protocols(const BirdReply& reply) {
  if (reply.code() == bird_code::kNoProtocolsMatch) return std::vector<BirdProtocol>{};
  if (reply.failed()) return "BIRD answered " + std::to_string(reply.code()) + " " + reply.message();
  std::vector<BirdProtocol> protocols;
  bool in_channel = false;
  for (const auto& line : reply.lines) {
    if (line.code == bird_code::kProtocolList) {
      auto protocol = parse_protocol_line(line.text);
      if (!protocol) return protocol.error();
      protocols.push_back(std::move(*protocol));
      in_channel = false;
    } else if (line.code == bird_code::kProtocolDetails) {
      if (protocols.empty()) return "protocol details before any protocol: \"" + line.text + "\"";
      if (auto error = parse_detail_line(line.text, protocols.back(), in_channel)) return *error;
    } else if (line.code == bird_code::kProtocolHeading || line.code == bird_code::kOk) {
      continue;
    } else {
      return "unexpected line in a protocol list: " + std::to_string(line.code) + " \"" + line.text + "\"";
    }
  }
  return protocols;
}

Result<std::vector<BirdProtocol>, std::string> parse_protocols(std::string_view reply_text) {
  auto reply = parse_bird_reply(reply_text);
  if (!reply) return reply.error();
  return parse_protocols(*reply);
}

Result<BirdRouteCount, std::string> parse_route_count(const BirdReply& reply) {
  if (reply.failed()) return "BIRD answered " + std::to_string(reply.code()) + " " + reply.message();
  // "3 of 3 routes for 3 networks in table master4"
  // "Total: 3 of 3 routes for 3 networks in 2 tables"
  struct Counted {
    std::uint64_t routes = 0, total = 0, networks = 0;
    std::string where;
  };
  const auto read = [](std::string_view text) -> std::optional<Counted> {
    const auto w = words(text);
    Counted counted;
    if (w.size() < 9 || w[1] != "of" || w[3] != "routes" || w[4] != "for" || w[6] != "networks" || w[7] != "in" ||
        !to_number(w[0], counted.routes) || !to_number(w[2], counted.total) || !to_number(w[5], counted.networks))
      return std::nullopt;
    const auto in_at = text.find(" in ");
    counted.where = std::string(trim(text.substr(in_at + 4)));
    return counted;
  };

  BirdRouteCount count;
  bool total_seen = false;
  for (const auto& line : reply.lines) {
    if (line.code == bird_code::kRouteList) {
      const auto counted = read(line.text);
      if (!counted || !counted->where.starts_with("table ")) return "unreadable route count: \"" + line.text + "\"";
      count.tables.push_back({counted->where.substr(6), counted->routes, counted->total, counted->networks});
    } else if (line.code == bird_code::kRouteCount && line.text.starts_with("Total: ")) {
      const auto counted = read(std::string_view(line.text).substr(7));
      if (!counted) return "unreadable route count total: \"" + line.text + "\"";
      count.routes = counted->routes;
      count.networks = counted->networks;
      total_seen = true;
    } else if (line.code != bird_code::kOk) {
      return "unexpected line in a route count: " + std::to_string(line.code) + " \"" + line.text + "\"";
    }
  }
  if (!total_seen) {  // one table only: BIRD prints no total
    for (const auto& table : count.tables) {
      count.routes += table.routes;
      count.networks += table.networks;
    }
  }
  return count;
}

Result<BirdRouteCount, std::string> parse_route_count(std::string_view reply_text) {
  auto reply = parse_bird_reply(reply_text);
  if (!reply) return reply.error();
  return parse_route_count(*reply);
}

Result<BirdDaemonStatus, std::string> parse_status(const BirdReply& reply) {
  if (reply.failed()) return "BIRD answered " + std::to_string(reply.code()) + " " + reply.message();
  if (reply.code() != bird_code::kStatusReport) return "not a status report: \"" + reply.message() + "\"";
  BirdDaemonStatus status;
  status.message = reply.message();
  for (const auto& line : reply.lines) {
    const std::string_view text = trim(line.text);
    if (line.code == bird_code::kBirdVersion && text.starts_with("BIRD ")) {
      status.version = std::string(text.substr(5));
    } else if (line.code == bird_code::kUptime) {
      constexpr std::string_view kRouterId = "Router ID is ", kReconfigured = "Last reconfiguration on ",
                                 kRebooted = "Last reboot on ";
      if (text.starts_with(kRouterId)) status.router_id = std::string(text.substr(kRouterId.size()));
      else if (text.starts_with(kRebooted)) status.last_reboot = std::string(text.substr(kRebooted.size()));
      else if (text.starts_with(kReconfigured))
        status.last_reconfiguration = std::string(text.substr(kReconfigured.size()));
    }
  }
  if (status.version.empty()) return std::string("status report without a BIRD version line");
  return status;
}

Result<BirdDaemonStatus, std::string> parse_status(std::string_view reply_text) {
  auto reply = parse_bird_reply(reply_text);
  if (!reply) return reply.error();
  return parse_status(*reply);
}

std::string configure_command(std::string_view path, bool check_only) {
  if (path.empty() || path.find_first_of("\"\n\r", 0) != std::string_view::npos ||
      path.find('\0') != std::string_view::npos)
    return {};
  return std::string(check_only ? "configure check \"" : "configure \"") + std::string(path) + "\"";
}

}  // namespace kvlb::bgp
