#pragma once
// Running a short-lived program (`bird -p -c file`) and collecting what it
// prints. Injected into the BIRD control as a function, so tests can script it.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "util/result.h"

namespace kvlb::bgp {

struct ExecResult {
  int exit_status = -1;  // the exit code, or 128 + the signal that ended it
  std::string output;    // stdout and stderr, interleaved as written
};

// argv[0] is the program's path (no PATH search). Failing to start it is an
// Error (errno of exec); running past `timeout` kills it and is ETIMEDOUT.
using Exec = std::function<Result<ExecResult>(const std::vector<std::string>& argv, std::chrono::milliseconds timeout)>;

// fork/exec with stdin from /dev/null, stdout and stderr into one pipe, no
// inherited descriptors, default signal dispositions and an empty signal mask.
Result<ExecResult> run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace kvlb::bgp
