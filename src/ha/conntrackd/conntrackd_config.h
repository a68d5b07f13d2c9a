#pragma once
// conntrackd.conf for the LB pair: FTFW over UDP unicast on a dedicated link,
// rendered from templates/conntrackd.conf.mustache (embedded at build time).
#include <cstdint>
#include <string>
#include <vector>

#include "util/result.h"

namespace kvlb::ha {

struct ConntrackdSettings {
  std::string sync_interface;      // the dedicated link, e.g. "eth2"
  std::string local_sync_address;  // IPv4 on sync_interface
  std::string peer_sync_address;   // the other node's sync address
  uint16_t port = 3780;
  // The node's own addresses besides loopback and the sync address (its
  // advert address...): flows to or from them are local, never synced.
  std::vector<std::string> own_addresses;

  std::string unix_socket = "/run/kvlb/conntrackd.ctl";
  std::string lock_file = "/run/kvlb/conntrackd.lock";
  std::string log_file;  // empty: no log file
  bool syslog = true;

  // FTFW (conntrackd.conf(5) defaults).
  uint32_t resend_queue_size = 131072;
  uint32_t ack_window_size = 300;
  uint32_t purge_timeout_seconds = 60;

  // Sized for an LB: a full bulk or a commit moves the whole table at once.
  uint32_t hash_size = 65536;
  uint32_t hash_limit = 524288;  // twice nf_conntrack_max, as conntrackd.conf(5) asks
  uint32_t netlink_buffer_size = 8 << 20;
  uint32_t netlink_buffer_size_max_growth = 64 << 20;
  uint32_t socket_buffer_size = 4 << 20;  // UDP send and receive
};

// Every problem at once, each naming its field:
// "conntrackd settings: sync_interface: empty; port: must be 1..65535 (got 0)".
Status validate_conntrackd_settings(const ConntrackdSettings& settings);

// Deterministic: the same settings give the same bytes (addresses sorted, deduplicated).
Result<std::string> render_conntrackd_conf(const ConntrackdSettings& settings);

}  // namespace kvlb::ha
