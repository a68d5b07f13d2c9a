#include "cluster/api_writes.h"

namespace kvlb::cluster {

std::string status_path(const StatusWrite& write) {
  return "/api/v1/namespaces/" + write.namespace_ + "/services/" + write.name + "/status";
}

nlohmann::json status_patch(const StatusWrite& write) {
  nlohmann::json ingress = nlohmann::json::array();
  for (const auto& entry : write.ingress) {
    nlohmann::json item{{"ip", entry.ip}};
    if (!entry.ip_mode.empty()) item["ipMode"] = entry.ip_mode;
    ingress.push_back(std::move(item));
  }
  if (write.ingress.empty()) ingress = nullptr;
  return {{"status", {{"loadBalancer", {{"ingress", ingress}}}}}};
}

std::string events_path(const EventWrite& event) { return "/api/v1/namespaces/" + event.namespace_ + "/events"; }

nlohmann::json event_body(const EventWrite& event, const std::string& reporting_instance,
                          const std::string& now_rfc3339) {
  nlohmann::json involved{{"apiVersion", "v1"}, {"kind", "Service"}, {"namespace", event.namespace_},
                          {"name", event.name}};
  if (!event.uid.empty()) involved["uid"] = event.uid;
  // The API limits an Event's message to 1 KiB in events.k8s.io; keep it short.
  std::string message = event.message.size() > 1000 ? event.message.substr(0, 997) + "..." : event.message;
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"generateName", event.name + "."}, {"namespace", event.namespace_}}},
          {"involvedObject", involved},
          {"reason", event.reason},
          {"message", message},
          {"type", "Warning"},
          {"source", {{"component", "kvlbd"}, {"host", reporting_instance}}},
          {"reportingComponent", "kvlb.io/kvlbd"},
          {"reportingInstance", reporting_instance},
          {"firstTimestamp", now_rfc3339},
          {"lastTimestamp", now_rfc3339},
          {"count", 1}};
}

}  // namespace kvlb::cluster
