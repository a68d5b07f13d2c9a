#include "bgp/bird/bird_exec.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace kvlb::bgp {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxOutput = 1 << 20;  // more is dropped: `bird -p` prints one line

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - SteadyClock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Inherited from a kvlbd under systemd, these would let the child notify on its behalf.
bool keep_in_child_env(const char* entry) {
  static constexpr const char* kSystemdVars[] = {"NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
                                                 "LISTEN_PID=",    "LISTEN_FDS=",   "LISTEN_FDNAMES="};
  return std::none_of(std::begin(kSystemdVars), std::end(kSystemdVars),
                      [&](const char* var) { return std::strncmp(entry, var, std::strlen(var)) == 0; });
}

// Between fork and exec only async-signal-safe calls (kvlbd has threads).
[[noreturn]] void exec_child(int null_input, int output, int error_pipe, char* const argv[], char* const envp[]) {
  ::dup2(null_input, STDIN_FILENO);
  ::dup2(output, STDOUT_FILENO);
  ::dup2(output, STDERR_FILENO);
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  ::execve(argv[0], argv, envp);
  const int err = errno;
  (void)!::write(error_pipe, &err, sizeof err);
  ::_exit(127);
}

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

  int output[2] = {-1, -1}, error_pipe[2] = {-1, -1};
  const int null_input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_input < 0 || ::pipe2(output, O_CLOEXEC) != 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    for (int fd : {null_input, output[0], output[1], error_pipe[0], error_pipe[1]})
      if (fd >= 0) ::close(fd);
    return Error::from_errno(err, "prepare to run " + what);
  }

  std::vector<std::string> arg_copies = args;
  std::vector<char*> argv;
  for (auto& arg : arg_copies) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** entry = environ; *entry; ++entry)
    if (keep_in_child_env(*entry)) envp.push_back(*entry);
  envp.push_back(nullptr);

  const pid_t child = ::fork();
  if (child == 0) exec_child(null_input, output[1], error_pipe[1], argv.data(), envp.data());
  const int fork_errno = errno;
  ::close(null_input);
  ::close(output[1]);
  ::close(error_pipe[1]);
  if (child < 0) {
    ::close(output[0]);
    ::close(error_pipe[0]);
    return Error::from_errno(fork_errno, "fork to run " + what);
  }

  // The error pipe closes on a successful exec; a failed one writes its errno first.
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(error_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
  ::close(error_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::close(output[0]);
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {}
    return Error::from_errno(exec_errno, "exec " + args[0]);
  }

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
