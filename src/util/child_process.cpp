#include "util/child_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace kvlb {
namespace {

// Inherited from a kvlbd under systemd, these would let the child notify
// (or claim sockets) on kvlbd's behalf.
bool keep_in_child_env(const char* entry) {
  static constexpr const char* kSystemdVars[] = {"NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
                                                 "LISTEN_PID=",    "LISTEN_FDS=",   "LISTEN_FDNAMES="};
  return std::none_of(std::begin(kSystemdVars), std::end(kSystemdVars),
                      [&](const char* var) { return std::strncmp(entry, var, std::strlen(var)) == 0; });
}

// Between fork and exec only async-signal-safe calls (kvlbd has threads).
[[noreturn]] void exec_child(const ChildOptions& options, int null_input, int error_pipe, char* const argv[],
                             char* const envp[]) {
  if (options.own_process_group) ::setpgid(0, 0);
  ::dup2(null_input, STDIN_FILENO);
  ::dup2(options.output_fd, STDOUT_FILENO);
  ::dup2(options.output_fd, STDERR_FILENO);
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // kvlbd's sockets must not outlive it in the child
  // kvlbd blocks SIGTERM/SIGHUP for its signalfd; the child must get them.
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

}  // namespace

Result<pid_t, SpawnError> spawn_child(const std::vector<std::string>& args, const ChildOptions& options) {
  const int null_input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int error_pipe[2] = {-1, -1};
  if (null_input < 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    if (null_input >= 0) ::close(null_input);
    return SpawnError{SpawnError::Step::Prepare, err};
  }

  // Built before the fork: the child may not allocate.
  std::vector<std::string> arg_copies = args;
  std::vector<char*> argv;
  for (auto& arg : arg_copies) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** entry = environ; *entry; ++entry)
    if (keep_in_child_env(*entry)) envp.push_back(*entry);
  envp.push_back(nullptr);

  const pid_t child = ::fork();
  if (child == 0) exec_child(options, null_input, error_pipe[1], argv.data(), envp.data());
  const int fork_errno = errno;
  ::close(null_input);
  ::close(error_pipe[1]);
  if (child < 0) {
    ::close(error_pipe[0]);
    return SpawnError{SpawnError::Step::Fork, fork_errno};
  }
  // Also here, so a signal to the group cannot race the child's own setpgid.
  if (options.own_process_group) ::setpgid(child, child);

  // The pipe closes on a successful exec; a failed one writes its errno first.
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(error_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
  ::close(error_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {}
    return SpawnError{SpawnError::Step::Exec, exec_errno};
  }
  return child;
}

}  // namespace kvlb
