#pragma once
// BirdControl over BIRD's UNIX control socket, speaking its CLI protocol
// directly (no birdc): connect, read the greeting ("0001 BIRD 2.0.12 ready."),
// send one command line, read reply lines up to the final "DDDD text" one.
// Each operation uses a connection of its own.
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "bgp/bird/bird_control.h"
#include "bgp/bird/bird_exec.h"
#include "bgp/bird/bird_reply.h"

namespace kvlb::bgp {

struct BirdControlOptions {
  std::string socket_path = "/run/bird/bird.ctl";  // `bird -s`
  std::string bird_binary = "/usr/sbin/bird";      // for check_config
  std::chrono::milliseconds reply_timeout{5000};   // connect, greeting, and each reply
  // configure: reading the file, and restarting the protocols it changes.
  std::chrono::milliseconds reconfigure_timeout{30000};
  std::chrono::milliseconds reconfigure_poll{50};  // asking `show status` meanwhile
  std::chrono::milliseconds check_timeout{10000};  // `bird -p`
};

class UnixSocketBirdControl final : public BirdControl {
 public:
  explicit UnixSocketBirdControl(BirdControlOptions options, Exec exec = run_program);

  BirdDone configure(const std::string& path) override;
  BirdDone check_config(const std::string& path) override;
  BirdDone check_config_in_daemon(const std::string& path) override;
  BirdResult<std::vector<BirdProtocol>> protocols() override;
  BirdResult<BirdRouteCount> route_count() override;
  BirdResult<BirdDaemonStatus> status() override;

  // One command on a fresh connection; a reply with an error code is returned
  // as a reply, not as an error. For commands this class has no method for.
  BirdResult<BirdReply> command(const std::string& line);

  const BirdControlOptions& options() const { return options_; }

 private:
  BirdControlOptions options_;
  Exec exec_;
  std::mutex mutex_;  // one operation at a time
};

}  // namespace kvlb::bgp
