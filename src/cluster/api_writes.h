#pragma once
// The requests kvlb sends to the API server, as pure functions: a merge
// patch of a Service's status subresource, and a core/v1 Event.
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/service_sync.h"

namespace kvlb::cluster {

std::string status_path(const StatusWrite& write);  // /api/v1/namespaces/NS/services/NAME/status
// {"status":{"loadBalancer":{"ingress":[{"ip":..,"ipMode":..}]}}}; an empty
// ingress clears it ("ingress": null removes the field in a merge patch).
nlohmann::json status_patch(const StatusWrite& write);

std::string events_path(const EventWrite& event);  // /api/v1/namespaces/NS/events
// A Warning Event about the Service; now_rfc3339 like "2026-11-27T03:04:46Z".
nlohmann::json event_body(const EventWrite& event, const std::string& reporting_instance,
                          const std::string& now_rfc3339);

}  // namespace kvlb::cluster
