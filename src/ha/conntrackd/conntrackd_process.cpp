#include "ha/conntrackd/conntrackd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>  // sigabbrev_np
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ha/conntrackd/conntrackd_spawn.h"

namespace kvlb::ha {
namespace {

using std::chrono::milliseconds;

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

Error timed_out(std::string context) { return Error{std::make_error_code(std::errc::timed_out), std::move(context)}; }

Status make_parent_dir(const std::string& path) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Error{ec, "create directory " + parent.string()};
  return ok_status();
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

ConntrackdProcessOptions conntrackd_process_options(const ConntrackdSettings& settings, std::string config_path) {
  ConntrackdProcessOptions options;
  options.config_path = std::move(config_path);
  options.lock_file = settings.lock_file;
  options.socket_path = settings.unix_socket;
  return options;
}

ConntrackdProcess::ConntrackdProcess(ConntrackdProcessOptions options, ConntrackdControl& control, const Clock& clock)
    : options_(std::move(options)), control_(control), clock_(clock), backoff_(options_.restart_backoff) {}

Result<bool> ConntrackdProcess::write_config(const std::string& text) {
  if (read_file(options_.config_path) == text) return false;
  if (auto made = make_parent_dir(options_.config_path); !made) return made.error();
  const std::string temporary = options_.config_path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error::from_errno(errno, "open " + temporary);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Error::from_errno(err, "write " + temporary);
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  if (!synced) return Error::from_errno(sync_errno, "fsync " + temporary);
  if (::rename(temporary.c_str(), options_.config_path.c_str()) != 0)
    return Error::from_errno(errno, "rename " + temporary + " to " + options_.config_path);
  return true;
}

Status ConntrackdProcess::start() {
  if (!options_.manage_process) return ok_status();
  wanted_ = true;
  if (alive()) return ok_status();
  return spawn();
}

Status ConntrackdProcess::shut_down_answering_daemon() {
  if (!control_.stats()) return ok_status();
  if (auto down = control_.shutdown(); !down) return Error::invalid(down.error().describe());
  const auto deadline = std::chrono::steady_clock::now() + options_.stop_timeout;
  while (control_.stats()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return timed_out("conntrackd left running on " + options_.socket_path + " did not exit within " +
                       ms_text(options_.stop_timeout) + " of -k");
    std::this_thread::sleep_for(milliseconds(20));
  }
  return ok_status();
}

Status ConntrackdProcess::spawn() {
  if (auto down = shut_down_answering_daemon(); !down) return down;
  // Nothing answers, so a lock file is left from a conntrackd that was killed.
  if (::unlink(options_.lock_file.c_str()) != 0 && errno != ENOENT)
    return Error::from_errno(errno, "remove stale lock file " + options_.lock_file);
  for (const auto* path : {&options_.lock_file, &options_.socket_path, &options_.output_log})
    if (auto made = make_parent_dir(*path); !made) return made;

  auto child = spawn_in_own_group({options_.binary, "-C", options_.config_path}, options_.output_log);
  if (!child) return child.error();
  output_offset_ = child->output_offset;
  pid_ = child->pid;
  started_at_ = clock_.now();
  return ok_status();
}

bool ConntrackdProcess::alive() {
  if (!options_.manage_process) return static_cast<bool>(control_.stats());
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped == 0) return true;
  last_wait_status_ = reaped == pid_ ? status : 0;
  if (wanted_) unreported_exit_ = Exit{pid_, last_wait_status_, clock_.now() - started_at_};
  pid_ = -1;
  return false;
}

Status ConntrackdProcess::wait_ready(milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const bool exited = options_.manage_process && !alive();
    if (exited && wanted_)
      return Error::invalid("conntrackd " + describe_exit(last_wait_status_) + " before answering on " +
                            options_.socket_path + why_exited(last_wait_status_));
    auto answer = control_.stats();
    if (answer) return ok_status();
    if (std::chrono::steady_clock::now() >= deadline)
      return timed_out("conntrackd did not answer within " + ms_text(timeout) + ": " + answer.error().describe());
    std::this_thread::sleep_for(milliseconds(20));
  }
}

Status ConntrackdProcess::stop() {
  wanted_ = false;
  unreported_exit_.reset();
  if (!options_.manage_process || !alive()) return ok_status();
  // The group also holds conntrackd's own helpers (flush, dumps). Signalled
  // only while the leader is unreaped, so the group id cannot have been reused.
  ::kill(-pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + options_.stop_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive()) return ok_status();
    std::this_thread::sleep_for(milliseconds(10));
  }
  if (!alive()) return ok_status();
  ::kill(-pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  last_wait_status_ = status;
  pid_ = -1;
  ::unlink(options_.lock_file.c_str());  // SIGKILL leaves it behind
  return ok_status();
}

Status ConntrackdProcess::restart() {
  if (auto stopped = stop(); !stopped) return stopped;
  return start();
}

std::vector<std::string> ConntrackdProcess::poll() {
  std::vector<std::string> events;
  if (!options_.manage_process || !wanted_) return events;
  const TimePoint now = clock_.now();
  if (alive()) {
    if (now - started_at_ >= options_.stable_after) backoff_ = options_.restart_backoff;
    return events;
  }
  if (unreported_exit_) {
    if (unreported_exit_->ran_for >= options_.stable_after) backoff_ = options_.restart_backoff;
    restart_at_ = now + backoff_;
    events.push_back("conntrackd (pid " + std::to_string(unreported_exit_->pid) + ") " +
                     describe_exit(unreported_exit_->wait_status) + why_exited(unreported_exit_->wait_status) +
                     "; restarting in " + ms_text(backoff_));
    backoff_ = std::min(backoff_ * 2, options_.restart_backoff_max);
    unreported_exit_.reset();
  }
  if (now < restart_at_) return events;
  if (auto started = spawn(); started) {
    events.push_back("conntrackd restarted (pid " + std::to_string(pid_) + ")");
  } else {
    restart_at_ = now + backoff_;
    events.push_back("conntrackd did not start: " + started.error().describe() + "; retrying in " + ms_text(backoff_));
    backoff_ = std::min(backoff_ * 2, options_.restart_backoff_max);
  }
  return events;
}

std::optional<pid_t> ConntrackdProcess::pid() const {
  if (pid_ <= 0) return std::nullopt;
  return pid_;
}

std::string ConntrackdProcess::describe_exit(int wait_status) const {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const char* name = sigabbrev_np(WTERMSIG(wait_status));
    return "was killed by signal " + std::to_string(WTERMSIG(wait_status)) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "stopped (wait status " + std::to_string(wait_status) + ")";
}

// conntrackd says why before it exits by itself; a signal leaves no reason.
std::string ConntrackdProcess::why_exited(int wait_status) const {
  return WIFEXITED(wait_status) ? last_output() : "";
}

// ": <its last lines>" from the current run's output (why it exited, usually), or "".
std::string ConntrackdProcess::last_output() const {
  std::string text;
  for (const auto& line : last_lines(options_.output_log, output_offset_, 3)) text += (text.empty() ? ": " : " / ") + line;
  return text;
}

}  // namespace kvlb::ha
