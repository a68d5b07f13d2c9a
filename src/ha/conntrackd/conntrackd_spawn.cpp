#include "ha/conntrackd/conntrackd_spawn.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "util/child_process.h"

namespace kvlb::ha {

Result<Spawned> spawn_in_own_group(const std::vector<std::string>& args, const std::string& output_log) {
  const int output = ::open(output_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (output < 0) return Error::from_errno(errno, "open " + output_log);
  struct stat existing {};
  const off_t output_offset = ::fstat(output, &existing) == 0 ? existing.st_size : 0;
  auto child = spawn_child(args, ChildOptions{.output_fd = output, .own_process_group = true});
  ::close(output);
  if (!child) {
    const auto [step, err] = child.error();
    if (step == SpawnError::Step::Exec) return Error::from_errno(err, "exec " + args[0]);
    return Error::from_errno(err, (step == SpawnError::Step::Fork ? "fork for " : "prepare to start ") + args[0]);
  }
  return Spawned{*child, output_offset};
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
