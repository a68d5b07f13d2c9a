#include "ha/conntrackd/conntrackd_spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace kvlb::ha {
namespace {

// Inherited from a kvlbd under systemd, these would make conntrackd notify
// (or claim sockets) on kvlbd's behalf.
bool keep_in_child_env(const char* entry) {
  static constexpr const char* kSystemdVars[] = {"NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
                                                 "LISTEN_PID=",    "LISTEN_FDS=",   "LISTEN_FDNAMES="};
  return std::none_of(std::begin(kSystemdVars), std::end(kSystemdVars),
                      [&](const char* var) { return std::strncmp(entry, var, std::strlen(var)) == 0; });
}

// Between fork and exec only async-signal-safe calls (kvlbd has threads).
[[noreturn]] void exec_child(int stdin_fd, int output_fd, int error_pipe, char* const argv[], char* const envp[]) {
  ::setpgid(0, 0);
  ::dup2(stdin_fd, STDIN_FILENO);
  ::dup2(output_fd, STDOUT_FILENO);
  ::dup2(output_fd, STDERR_FILENO);
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // kvlbd's sockets must not outlive it in conntrackd
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

Result<Spawned> spawn_in_own_group(const std::vector<std::string>& args, const std::string& output_log) {
  const int output = ::open(output_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (output < 0) return Error::from_errno(errno, "open " + output_log);
  struct stat existing {};
  const off_t output_offset = ::fstat(output, &existing) == 0 ? existing.st_size : 0;
  const int null_input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int error_pipe[2];
  if (null_input < 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(output);
    if (null_input >= 0) ::close(null_input);
    return Error::from_errno(err, "prepare to start " + args[0]);
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
  if (child == 0) exec_child(null_input, output, error_pipe[1], argv.data(), envp.data());
  const int fork_errno = errno;
  ::close(error_pipe[1]);
  ::close(output);
  ::close(null_input);
  if (child < 0) {
    ::close(error_pipe[0]);
    return Error::from_errno(fork_errno, "fork for " + args[0]);
  }
  ::setpgid(child, child);  // also here, so a signal to the group cannot race the child's own setpgid

  // The pipe closes on a successful exec; an exec failure writes its errno first.
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(error_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
  ::close(error_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(child, nullptr, 0);
    return Error::from_errno(exec_errno, "exec " + args[0]);
  }
  return Spawned{child, output_offset};
}

std::vector<std::string> last_lines(const std::string& path, off_t from, std::size_t max_lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(from, size - 4096);
  if (start >= size) return {};
  in.seekg(start);
  std::string tail(static_cast<std::size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  std::vector<std::string> lines;
  std::istringstream stream(tail);
  for (std::string line; std::getline(stream, line);) {
    if (const auto prefix = line.find(") "); line.starts_with("[") && line.find("] (pid=") < prefix)
      line.erase(0, prefix + 2);
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.size() > max_lines) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max_lines));
  return lines;
}

}  // namespace kvlb::ha
