#include "ipam/allocator.h"

#include <algorithm>
#include <utility>

namespace kvlb::ipam {

namespace {

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

// Duplicates and more than one IP of a family: a Service has at most one IP per family.
std::optional<Problem> malformed(const std::vector<model::IpAddress>& ips, const std::string& field) {
  if (ips.empty()) return Problem{field, "no IP address"};
  for (std::size_t i = 0; i < ips.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      if (ips[j] == ips[i]) return Problem{field, ips[i].str() + " is listed twice"};
      if (ips[j].family() == ips[i].family())
        return Problem{field, std::string("more than one ") + family_name(ips[i].family()) + " address (" +
                                  ips[j].str() + " and " + ips[i].str() + ")"};
    }
  return std::nullopt;
}

std::optional<Problem> malformed(const std::vector<model::Family>& families) {
  if (families.empty()) return Problem{kFieldIpFamilies, "no IP family"};
  for (std::size_t i = 0; i < families.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (families[j] == families[i])
        return Problem{kFieldIpFamilies, std::string(family_name(families[i])) + " is listed twice"};
  return std::nullopt;
}

// How an auto-assigned IP was found, best first: keeping the service's own
// IP beats joining an IP shared under its key, which beats a new address.
enum class Source { Own, Shared, Free };

struct Candidate {
  model::IpAddress ip;
  Source source;
};

// The IP of `family` that `pool` offers the request, if any.
std::optional<Candidate> candidate_in(const Pool& pool, model::Family family, const Request& request,
                                      const std::vector<PortUse>& ports, const Holdings& holdings) {
  auto shareable = [&](const model::IpAddress& ip) {
    return !holdings.why_not_shareable(ip, request.service, request.sharing_key, ports);
  };
  if (const Allocation* current = holdings.find(request.service))
    for (const model::IpAddress& ip : current->ips)
      if (ip.family() == family && pool.contains(ip) && shareable(ip)) return Candidate{ip, Source::Own};
  if (!request.sharing_key.empty()) {
    const auto& keyed = holdings.ips_with_sharing_key(request.sharing_key);
    for (const NumberRange& range : pool.ranges_of(family))
      for (auto it = keyed.lower_bound(to_address(range.first, family));
           it != keyed.end() && *it <= to_address(range.last, family); ++it)
        if (shareable(*it)) return Candidate{*it, Source::Shared};
  }
  for (const NumberRange& range : pool.ranges_of(family))
    if (auto free = holdings.lowest_free(family, range)) return Candidate{*free, Source::Free};
  return std::nullopt;
}

}  // namespace

std::string PortUse::str() const { return std::to_string(port) + "/" + std::string(model::to_string(protocol)); }

std::string Problem::str() const { return field + ": " + message; }

Allocator::Allocator(std::vector<model::IpPool> pools) : pools_(pools) {}

void Allocator::set_pools(std::vector<model::IpPool> pools) { pools_ = PoolSet(pools); }

void Allocator::release(const std::string& service) { holdings_.erase(service); }

std::optional<std::vector<model::IpAddress>> Allocator::allocation(const std::string& service) const {
  const Allocation* current = holdings_.find(service);
  if (current == nullptr) return std::nullopt;
  return current->ips;
}

Result<std::vector<model::IpAddress>, Problem> Allocator::assign(const Request& request) {
  return request.requested.empty() ? assign_automatically(request) : assign_requested(request);
}

Result<std::vector<model::IpAddress>, Problem> Allocator::restore(const Request& request,
                                                                  const std::vector<model::IpAddress>& ips) {
  if (auto problem = malformed(ips, kFieldStatus)) return *problem;
  bool auto_assign_only = request.requested.empty();
  auto allowed = allowed_pools(request.pool, auto_assign_only);
  if (!allowed) return allowed.error();
  for (const model::IpAddress& ip : ips)
    if (auto problem = outside_allowed_pools(ip, *allowed, request, kFieldStatus)) return *problem;
  if (auto problem = not_shareable(ips, request, kFieldStatus)) return *problem;
  commit(request, ips);
  return ips;
}

Result<Allocator::Ips, Problem> Allocator::assign_requested(const Request& request) {
  if (auto problem = malformed(request.requested, request.requested_field)) return *problem;
  auto allowed = allowed_pools(request.pool, false);  // asking for an IP may use any pool
  if (!allowed) return allowed.error();
  for (const model::IpAddress& ip : request.requested)
    if (auto problem = outside_allowed_pools(ip, *allowed, request, request.requested_field)) return *problem;
  if (auto problem = not_shareable(request.requested, request, request.requested_field)) return *problem;
  commit(request, request.requested);
  return request.requested;
}

Result<Allocator::Ips, Problem> Allocator::assign_automatically(const Request& request) {
  if (auto problem = malformed(request.families)) return *problem;
  auto allowed = allowed_pools(request.pool, true);
  if (!allowed) return allowed.error();
  std::optional<Ips> ips = current_if_still_valid(request, *allowed);
  if (!ips) ips = pick(request, *allowed);
  if (!ips) return nothing_free(request, *allowed);
  commit(request, *ips);
  return *ips;
}

Result<Allocator::PoolIndexes, Problem> Allocator::allowed_pools(const std::string& pool,
                                                                 bool auto_assign_only) const {
  if (!pool.empty()) {
    // Naming a pool allows it even without auto-assign: that is what the flag is for.
    if (auto index = pools_.find(pool)) return PoolIndexes{*index};
    std::string known;
    for (const Pool& p : pools_.pools()) known += (known.empty() ? "" : ", ") + quoted(p.name);
    return Problem{kFieldPool,
                   "unknown pool " + quoted(pool) + (known.empty() ? " (no pools)" : " (pools: " + known + ")")};
  }
  PoolIndexes allowed;
  for (std::size_t i = 0; i < pools_.pools().size(); ++i)
    if (!auto_assign_only || pools_.pools()[i].auto_assign) allowed.push_back(i);
  return allowed;
}

std::optional<Problem> Allocator::outside_allowed_pools(const model::IpAddress& ip, const PoolIndexes& allowed,
                                                        const Request& request, const std::string& field) const {
  for (std::size_t index : allowed)
    if (pools_.pools()[index].contains(ip)) return std::nullopt;
  if (!request.pool.empty()) {
    const Pool& pool = pools_.pools()[allowed.front()];
    if (!pool.has(ip.family()))
      return Problem{kFieldPool, "pool " + quoted(pool.name) + " has no " + family_name(ip.family()) + " addresses"};
    return Problem{field, ip.str() + " is not in pool " + quoted(pool.name)};
  }
  bool any_pool = allowed.size() == pools_.pools().size();
  return Problem{field, ip.str() + (any_pool ? " is not in any pool" : " is not in any pool with auto-assign")};
}

std::optional<Problem> Allocator::not_shareable(const Ips& ips, const Request& request,
                                                const std::string& field) const {
  std::vector<PortUse> ports = sorted_ports(request.ports);
  for (const model::IpAddress& ip : ips)
    if (auto why = holdings_.why_not_shareable(ip, request.service, request.sharing_key, ports))
      return Problem{field, *why};
  return std::nullopt;
}

std::optional<Allocator::Ips> Allocator::current_if_still_valid(const Request& request,
                                                                const PoolIndexes& allowed) const {
  const Allocation* current = holdings_.find(request.service);
  if (current == nullptr || current->ips.size() != request.families.size()) return std::nullopt;
  Ips ips;
  for (model::Family family : request.families) {
    auto ip = std::find_if(current->ips.begin(), current->ips.end(),
                           [&](const model::IpAddress& held) { return held.family() == family; });
    if (ip == current->ips.end()) return std::nullopt;
    bool allowed_pool = std::any_of(allowed.begin(), allowed.end(),
                                    [&](std::size_t index) { return pools_.pools()[index].contains(*ip); });
    if (!allowed_pool) return std::nullopt;
    ips.push_back(*ip);
  }
  if (not_shareable(ips, request, request.requested_field)) return std::nullopt;
  return ips;
}

std::optional<Allocator::Ips> Allocator::pick(const Request& request, const PoolIndexes& allowed) const {
  std::vector<PortUse> ports = sorted_ports(request.ports);
  std::optional<Ips> best;
  std::pair<int, int> best_reuse{-1, -1};  // (own IPs kept, shared IPs joined)
  for (std::size_t index : allowed) {
    Ips ips;
    std::pair<int, int> reuse{0, 0};
    for (model::Family family : request.families) {
      auto candidate = candidate_in(pools_.pools()[index], family, request, ports, holdings_);
      if (!candidate) break;
      ips.push_back(candidate->ip);
      reuse.first += candidate->source == Source::Own;
      reuse.second += candidate->source == Source::Shared;
    }
    // Strictly better only: among equals the first pool in config order wins.
    if (ips.size() == request.families.size() && reuse > best_reuse) {
      best = std::move(ips);
      best_reuse = reuse;
    }
  }
  return best;
}

Problem Allocator::nothing_free(const Request& request, const PoolIndexes& allowed) const {
  std::vector<PortUse> ports = sorted_ports(request.ports);
  auto offers = [&](std::size_t index, model::Family family) {
    return candidate_in(pools_.pools()[index], family, request, ports, holdings_).has_value();
  };
  if (!request.pool.empty()) {
    const Pool& pool = pools_.pools()[allowed.front()];
    for (model::Family family : request.families)
      if (!pool.has(family))
        return Problem{kFieldPool, "pool " + quoted(pool.name) + " has no " + family_name(family) + " addresses"};
    for (model::Family family : request.families)
      if (!offers(allowed.front(), family))
        return Problem{kFieldPool, "pool " + quoted(pool.name) + " has no free " + family_name(family) +
                                       " address (" + in_use_text(pool, family) + ")"};
    // Not reached: a pool offering every family on its own offers them together.
    return Problem{kFieldPool, "pool " + quoted(pool.name) + " has no free address"};
  }
  if (allowed.empty()) return Problem{kFieldPool, "no pool has auto-assign"};
  for (model::Family family : request.families) {
    bool any_has = std::any_of(allowed.begin(), allowed.end(),
                               [&](std::size_t index) { return pools_.pools()[index].has(family); });
    if (!any_has)
      return Problem{kFieldPool, std::string("no pool with auto-assign has ") + family_name(family) + " addresses"};
  }
  for (model::Family family : request.families) {
    if (std::any_of(allowed.begin(), allowed.end(), [&](std::size_t index) { return offers(index, family); }))
      continue;
    std::string counts;
    for (std::size_t index : allowed) {
      const Pool& pool = pools_.pools()[index];
      if (!pool.has(family)) continue;
      counts += (counts.empty() ? "" : ", ") + quoted(pool.name) + ": " + in_use_text(pool, family);
    }
    return Problem{kFieldPool, std::string("no pool with auto-assign has a free ") + family_name(family) +
                                   " address (" + counts + ")"};
  }
  std::string wanted;
  for (model::Family family : request.families)
    wanted += std::string(wanted.empty() ? "both a free " : " and a free ") + family_name(family);
  return Problem{kFieldPool, "no pool with auto-assign has " + wanted + " address"};
}

std::string Allocator::in_use_text(const Pool& pool, model::Family family) const {
  uint64_t used = 0;
  for (const NumberRange& range : pool.ranges_of(family))
    used = add_saturating(used, holdings_.held_count(family, range));
  return std::to_string(used) + " of " + std::to_string(pool.size[family_index(family)]) + " in use";
}

void Allocator::commit(const Request& request, const Ips& ips) {
  holdings_.record(request.service, Allocation{ips, request.sharing_key, sorted_ports(request.ports)});
}

std::vector<PoolUsage> Allocator::usage() const {
  std::vector<PoolUsage> usages;
  for (const Pool& pool : pools_.pools()) {
    PoolUsage usage{.pool = pool.name, .size_v4 = pool.size[0], .size_v6 = pool.size[1]};
    for (const NumberRange& range : pool.ranges_of(model::Family::V4))
      usage.used_v4 = add_saturating(usage.used_v4, holdings_.held_count(model::Family::V4, range));
    for (const NumberRange& range : pool.ranges_of(model::Family::V6))
      usage.used_v6 = add_saturating(usage.used_v6, holdings_.held_count(model::Family::V6, range));
    usages.push_back(std::move(usage));
  }
  std::sort(usages.begin(), usages.end(),
            [](const PoolUsage& a, const PoolUsage& b) { return a.pool < b.pool; });
  return usages;
}

}  // namespace kvlb::ipam
