#pragma once
// kvlbd's HA wiring: mastership (HaNode), the ordered takeover, the IPVS
// sync daemons, conntrackd (config, process, socket) and the SCTP entry repair.
// The main loop calls on_wake() when the HA thread queued something and
// tick() now and then; everything here runs on the main loop's thread,
// except HaNode's own advert thread.
#include <functional>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/ha_node.h"
#include "daemon/takeover.h"
#include "ha/conntrackd/conntrackd_process.h"
#include "ha/conntrackd/conntrackd_socket_control.h"
#include "kernel/conntrack/netfilter_conntrack_writer.h"
#include "kernel/ipvs/netlink_ipvs_sync.h"
#include "model/types.h"
#include "util/clock.h"

namespace kvlb::daemon {

struct HaCallbacks {
  std::function<void()> notify;  // from the HA thread: wake the main loop
  // Reconcile with these holds; an error if anything failed.
  std::function<Status(const std::map<std::string, model::InstanceHold>&)> apply_holds;
  // The instance's SCTP services, every NAT mode: endpoint address -> port
  // (their committed conntrack entries are repaired at takeover).
  std::function<std::map<kernel::ConnKey, std::map<model::IpAddress, uint16_t>>(const std::string& instance)>
      sctp_endpoints;
};

class HaRuntime {
 public:
  static Result<std::unique_ptr<HaRuntime>> create(const model::DesiredState& desired, const Clock& clock,
                                                   HaCallbacks callbacks);
  ~HaRuntime();

  // conntrackd (when managed), the advert thread, and every instance as BACKUP.
  Status start();
  void on_wake();
  // The desired state changed: the instance digests in adverts follow it.
  void desired_changed(const model::DesiredState& desired);
  void tick();
  // Graceful: priority 0 to the peer, then this node's addresses go.
  void stop();

  nlohmann::json status() const;
  std::string metrics() const;

 private:
  HaRuntime(const model::DesiredState& desired, const Clock& clock, HaCallbacks callbacks, ha::Bytes key);
  TakeoverHooks hooks();
  Status set_ipvs_sync(bool master, bool backup);
  Status conntrackd(ha::ConntrackdStatus status);

  model::HaSettings settings_;
  const Clock& clock_;
  HaCallbacks callbacks_;
  ha::SystemWallClock wall_;
  std::unique_ptr<HaNode> node_;
  std::unique_ptr<Takeover> takeover_;
  std::unique_ptr<kernel::NetlinkIpvsSyncDaemons> ipvs_sync_;
  std::string ipvs_sync_error_;
  std::unique_ptr<kernel::NetfilterConntrackWriter> conntrack_writer_;
  std::unique_ptr<ha::UnixSocketConntrackdControl> conntrackd_control_;
  std::unique_ptr<ha::ConntrackdProcess> conntrackd_process_;
  std::string conntrackd_error_;
  std::map<std::string, uint64_t> terms_;  // instance -> mastership term of its latest takeover
  bool synced_ = false;
  bool stopped_ = false;
};

}  // namespace kvlb::daemon
