#pragma once
// BIRD 2's config for announcing the VIPs, rendered from
// templates/bird.conf.mustache (embedded at build time). Pure.
//
// Roles never touch a BGP session: the VIPs sit in two pairs of static
// protocols, kvlb_master4/6 and kvlb_backup4/6, and every peer's export
// filter, which does not depend on roles, accepts kvlb_master routes and
// withholds kvlb_backup routes or makes them worse. A role change moves
// route lines between the static protocols and nothing else, so
// `birdc configure` reloads the static protocols only.
#include <string>
#include <vector>

#include "bgp/routes.h"
#include "model/bgp.h"
#include "util/result.h"

namespace kvlb::bgp {

// Every problem at once, each naming its field: "bgp settings: local_as: must
// be 1..4294967295 (got 0); peers[1].password: ...". The config loader checks
// the same, with file and line.
Status validate_bgp_settings(const model::BgpSettings& settings);

// Deterministic: the same settings and routes give the same bytes, whatever
// their order (peers sorted by address, routes by VIP, communities sorted,
// each once). `settings` must pass validate_bgp_settings.
std::string render_bird_config(const model::BgpSettings& settings, const std::vector<AnnouncedRoute>& routes);

}  // namespace kvlb::bgp
