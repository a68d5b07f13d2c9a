#pragma once
// IP address management: hands out service IPs to Kubernetes Services from
// named pools, the way MetalLB users expect. Pure logic: no I/O, no clock,
// and the same calls in the same order always give the same IPs.
#include <optional>
#include <string>
#include <vector>

#include "ipam/holdings.h"
#include "ipam/pool_set.h"
#include "ipam/types.h"
#include "model/address.h"
#include "model/types.h"
#include "util/result.h"

namespace kvlb::ipam {

class Allocator {
 public:
  explicit Allocator(std::vector<model::IpPool> pools);

  // The IPs the service should have, in the order asked for (requested IPs,
  // or one per family of request.families). If its current allocation still
  // satisfies the request (same requested IPs, or nothing requested and its
  // IPs are still in a pool the request allows, families still match, and
  // sharing still allowed), it is returned unchanged: an allocation is never
  // reassigned. Otherwise a new allocation is made and the old one released.
  // Auto assignment takes, per family, from one pool: the service's own
  // current IP, else an IP already held under its sharing key, else the
  // lowest free address (ranges in config order). The pool is the one that
  // keeps the most of the service's IPs, then joins the most shared ones,
  // then comes first in config order. On failure the service keeps its
  // previous allocation (if any) and the Problem says why.
  Result<std::vector<model::IpAddress>, Problem> assign(const Request& request);

  // Records an allocation read back from a Service's status after a restart
  // (before any assign), so IPs are never handed to someone else. Fails (and
  // records nothing) if the IPs are not in the allowed pool(s) or conflict
  // with an allocation already recorded (then the caller will assign()
  // normally). The allowed pools are those assign() would allow.
  Result<std::vector<model::IpAddress>, Problem> restore(const Request& request,
                                                         const std::vector<model::IpAddress>& ips);

  void release(const std::string& service);
  std::optional<std::vector<model::IpAddress>> allocation(const std::string& service) const;

  // On config reload. Allocations stay; one whose IPs left every pool is
  // re-judged at the next assign().
  void set_pools(std::vector<model::IpPool> pools);

  std::vector<PoolUsage> usage() const;  // sorted by pool name

 private:
  using Ips = std::vector<model::IpAddress>;
  using PoolIndexes = std::vector<std::size_t>;  // into pools_.pools(), config order

  Result<Ips, Problem> assign_requested(const Request& request);
  Result<Ips, Problem> assign_automatically(const Request& request);
  Result<PoolIndexes, Problem> allowed_pools(const std::string& pool, bool auto_assign_only) const;
  std::optional<Problem> outside_allowed_pools(const model::IpAddress& ip, const PoolIndexes& allowed,
                                               const Request& request, const std::string& field) const;
  std::optional<Problem> not_shareable(const Ips& ips, const Request& request, const std::string& field) const;
  std::optional<Ips> current_if_still_valid(const Request& request, const PoolIndexes& allowed) const;
  std::optional<Ips> pick(const Request& request, const PoolIndexes& allowed) const;
  Problem nothing_free(const Request& request, const PoolIndexes& allowed) const;
  std::string in_use_text(const Pool& pool, model::Family family) const;  // "16 of 16 in use"
  void commit(const Request& request, const Ips& ips);

  PoolSet pools_;
  Holdings holdings_;
};

}  // namespace kvlb::ipam
