#pragma once
// fork/exec of a helper program (bird, conntrackd) from the threaded kvlbd.
// What kvlbd must not pass on is not inherited: open descriptors, blocked
// signals and handlers, systemd's notify and socket variables.
#include <sys/types.h>

#include <string>
#include <vector>

#include "util/result.h"

namespace kvlb {

struct ChildOptions {
  int output_fd = -1;              // the child's stdout and stderr; its stdin is /dev/null
  bool own_process_group = false;  // the child leads a new process group
};

// Which step failed and its errno, so each caller words its own error.
struct SpawnError {
  enum class Step { Prepare, Fork, Exec };
  Step step;
  int err;
};

// argv (not empty) has the program's path first: no PATH search. Returns
// once the exec has succeeded; a child whose exec failed is reaped and
// reported as Step::Exec. output_fd stays open: the caller closes it.
Result<pid_t, SpawnError> spawn_child(const std::vector<std::string>& argv, const ChildOptions& options);

}  // namespace kvlb
