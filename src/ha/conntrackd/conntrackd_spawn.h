#pragma once
// fork/exec for conntrackd: its own process group, stdin from /dev/null,
// stdout and stderr appended to a log. What kvlbd must not pass on is not
// inherited: blocked signals, systemd's notify variables, open descriptors.
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "util/result.h"

namespace kvlb::ha {

struct Spawned {
  pid_t pid = -1;
  off_t output_offset = 0;  // where this run's output starts in the log
};

// argv[0] is the program's path. An exec failure is returned, not a child.
Result<Spawned> spawn_in_own_group(const std::vector<std::string>& argv, const std::string& output_log);

// The last lines written to `path` from byte `from` on, at most `max_lines`,
// without conntrackd's "[date] (pid=N) " prefixes.
std::vector<std::string> last_lines(const std::string& path, off_t from, std::size_t max_lines);

}  // namespace kvlb::ha
