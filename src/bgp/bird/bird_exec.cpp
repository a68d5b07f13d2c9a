#include "bgp/bird/bird_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <thread>

#include "util/child_process.h"
#include "util/deadline.h"

namespace kvlb::bgp {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxOutput = 1 << 20;  // more is dropped: `bird -p` prints one line

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

}  // namespace

Result<ExecResult> run_program(const std::vector<std::string>& args, milliseconds timeout) {
  if (args.empty()) return Error::invalid("run a program: empty argv");
  const std::string what = joined(args);
  const auto deadline = SteadyClock::now() + timeout;

  int output[2] = {-1, -1};
  if (::pipe2(output, O_CLOEXEC) != 0) return Error::from_errno(errno, "prepare to run " + what);
  auto spawned = spawn_child(args, ChildOptions{.output_fd = output[1]});
  ::close(output[1]);
  if (!spawned) {
    ::close(output[0]);
    const auto [step, err] = spawned.error();
    if (step == SpawnError::Step::Exec) return Error::from_errno(err, "exec " + args[0]);
    return Error::from_errno(err, (step == SpawnError::Step::Fork ? "fork to run " : "prepare to run ") + what);
  }
  const pid_t child = *spawned;

  ExecResult result;
  std::array<char, 4096> buffer;
  bool timed_out = false;
  for (;;) {
    pollfd ready{output[0], POLLIN, 0};
    const int polled = ::poll(&ready, 1, remaining_ms(deadline));
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) {
      timed_out = true;
      break;
    }
    if (polled < 0) break;
    const ssize_t n = ::read(output[0], buffer.data(), buffer.size());
    if (n > 0) {
      const std::size_t room = kMaxOutput - std::min(kMaxOutput, result.output.size());
      result.output.append(buffer.data(), std::min(room, static_cast<std::size_t>(n)));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      break;
    }
  }
  ::close(output[0]);

  // Output closed: the program is exiting. Wait for it until the deadline.
  int status = 0;
  for (;;) {
    const pid_t done = timed_out ? 0 : ::waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) return Error::from_errno(errno, "wait for " + what);
    if (timed_out || remaining_ms(deadline) == 0) {
      ::kill(child, SIGKILL);
      while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {}
      return Error::from_errno(ETIMEDOUT, what + " (killed after " + std::to_string(timeout.count()) + " ms)");
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  result.exit_status = decode_wait_status(status);
  return result;
}

}  // namespace kvlb::bgp
