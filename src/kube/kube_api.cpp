#include "kube/kube_api.h"

namespace kvlb::kube {

std::string ApiError::describe() const {
  std::string out = request.empty() ? "" : request + ": ";
  if (status != 0) {
    out += std::to_string(status);
    if (!reason.empty()) out += " " + reason;
    if (!message.empty()) out += ": " + message;
    return out;
  }
  if (!reason.empty() && reason != "Transport") out += reason + ": ";
  return out + (message.empty() ? "unknown error" : message);
}

bool ApiError::gone() const { return status == 410 || reason == "Expired" || reason == "Gone"; }

ApiError status_error(const nlohmann::json& status, int http_status, std::string request) {
  ApiError e;
  e.status = http_status;
  e.request = std::move(request);
  if (status.is_object()) {
    if (auto it = status.find("code"); it != status.end() && it->is_number_integer() && it->get<int>() != 0)
      e.status = it->get<int>();
    if (auto it = status.find("reason"); it != status.end() && it->is_string()) e.reason = it->get<std::string>();
    if (auto it = status.find("message"); it != status.end() && it->is_string()) e.message = it->get<std::string>();
  }
  if (e.message.empty() && !status.is_null()) e.message = status.dump();
  if (e.status == 0 && e.reason.empty()) e.reason = "BadResponse";
  return e;
}

const char* to_string(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::Added: return "ADDED";
    case WatchEvent::Type::Modified: return "MODIFIED";
    case WatchEvent::Type::Deleted: return "DELETED";
    case WatchEvent::Type::Bookmark: return "BOOKMARK";
  }
  return "?";
}

std::string query_escape(std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

namespace {
std::string unescape(std::string_view s) {
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}
}  // namespace

const std::string* PathAndQuery::find(std::string_view key) const {
  for (auto it = query.rbegin(); it != query.rend(); ++it)
    if (it->first == key) return &it->second;
  return nullptr;
}

PathAndQuery split_path_and_query(std::string_view path_and_query) {
  PathAndQuery out;
  auto q = path_and_query.find('?');
  out.path = std::string(path_and_query.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view rest = path_and_query.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) out.query.emplace_back(unescape(pair), "");
    else out.query.emplace_back(unescape(pair.substr(0, eq)), unescape(pair.substr(eq + 1)));
  }
  return out;
}

}  // namespace kvlb::kube
