#pragma once
// conntrackd as kvlbd's child: its config written atomically, the process
// started in its own group, restarted with backoff when it dies, stopped with
// SIGTERM then SIGKILL. With manage_process off (systemd runs conntrackd) only
// the config is written and readiness is asked over the socket.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ha/conntrackd/conntrackd_config.h"
#include "ha/conntrackd/conntrackd_control.h"
#include "util/clock.h"
#include "util/result.h"

namespace kvlb::ha {

struct ConntrackdProcessOptions {
  std::string binary = "/usr/sbin/conntrackd";
  std::string config_path = "/run/kvlb/conntrackd.conf";
  std::string lock_file = "/run/kvlb/conntrackd.lock";    // a stale one makes conntrackd refuse to start
  std::string socket_path = "/run/kvlb/conntrackd.ctl";   // its directory must exist
  std::string output_log = "/var/log/kvlb/conntrackd.log";  // the child's stdout and stderr
  bool manage_process = true;
  std::chrono::milliseconds stop_timeout{5000};  // SIGTERM, then SIGKILL
  std::chrono::milliseconds restart_backoff{500};  // doubled after each quick death...
  std::chrono::milliseconds restart_backoff_max{30000};
  std::chrono::milliseconds stable_after{60000};  // ...and reset by a run this long
};

// Lock file and socket path from the settings the config is rendered from.
ConntrackdProcessOptions conntrackd_process_options(const ConntrackdSettings& settings, std::string config_path);

class ConntrackdProcess {
 public:
  // control talks to the socket the config names; clock paces restarts.
  ConntrackdProcess(ConntrackdProcessOptions options, ConntrackdControl& control, const Clock& clock);
  // Leaves conntrackd running: state sync goes on while kvlbd restarts.
  ~ConntrackdProcess() = default;
  ConntrackdProcess(const ConntrackdProcess&) = delete;
  ConntrackdProcess& operator=(const ConntrackdProcess&) = delete;

  // Temporary file + rename; true when the file's bytes changed.
  Result<bool> write_config(const std::string& text);

  // Starts `conntrackd -C config_path`. A conntrackd already answering on the
  // socket (left running by an earlier kvlbd, maybe with an older config) is
  // shut down first, and a stale lock file removed.
  Status start();
  // Asks the socket until it answers stats; fails at once, with conntrackd's
  // last output lines, if the child exits first.
  Status wait_ready(std::chrono::milliseconds timeout);
  // The child is running (reaped if it exited); without manage_process: the socket answers.
  bool alive();
  // SIGTERM to its group, SIGKILL after stop_timeout. No restarts until start().
  Status stop();
  Status restart();

  // Call periodically: notices a dead child and restarts it with backoff.
  // Returns what happened, for the log ("conntrackd (pid 42) exited with status 1 ...").
  std::vector<std::string> poll();

  std::optional<pid_t> pid() const;

 private:
  struct Exit {
    pid_t pid;
    int wait_status;
    std::chrono::steady_clock::duration ran_for;
  };

  Status spawn();
  Status shut_down_answering_daemon();
  std::string last_output() const;  // of the current run
  std::string why_exited(int wait_status) const;
  std::string describe_exit(int wait_status) const;

  ConntrackdProcessOptions options_;
  ConntrackdControl& control_;
  const Clock& clock_;
  pid_t pid_ = -1;
  int last_wait_status_ = 0;
  std::optional<Exit> unreported_exit_;  // reaped while wanted, not yet told by poll()
  off_t output_offset_ = 0;              // where the current run's output starts in output_log
  bool wanted_ = false;                  // started and not stopped: poll() keeps it running
  TimePoint started_at_{};
  TimePoint restart_at_{};
  std::chrono::milliseconds backoff_;
};

}  // namespace kvlb::ha
