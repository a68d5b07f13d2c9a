// run_program: the process helper behind check_config.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bgp/bird/bird_exec.h"

namespace kvlb::bgp {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(RunProgram, ExitStatusAndBothOutputStreams) {
  auto ran = run_program({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 5s);
  ASSERT_TRUE(ran.ok()) << ran.error().describe();
  EXPECT_EQ(ran->exit_status, 3);
  EXPECT_EQ(ran->output, "out\nerr\n");
}

TEST(RunProgram, NoInputAndNoInheritedDescriptors) {
  auto ran = run_program({"/bin/sh", "-c", "cat; ls /proc/self/fd | wc -l"}, 5s);
  ASSERT_TRUE(ran.ok()) << ran.error().describe();
  EXPECT_EQ(ran->exit_status, 0);
  // stdin, stdout, stderr, and the descriptor ls reads the directory with
  EXPECT_EQ(ran->output, "4\n");
}

TEST(RunProgram, KilledBySignal) {
  auto ran = run_program({"/bin/sh", "-c", "kill -9 $$"}, 5s);
  ASSERT_TRUE(ran.ok()) << ran.error().describe();
  EXPECT_EQ(ran->exit_status, 128 + 9);
}

TEST(RunProgram, TooSlowIsKilledAndTimedOut) {
  const auto start = std::chrono::steady_clock::now();
  auto ran = run_program({"/bin/sleep", "10"}, 200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(ran.error().code, std::errc::timed_out);
  EXPECT_THAT(ran.error().describe(), HasSubstr("/bin/sleep 10 (killed after 200 ms)"));
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 3s);
}

TEST(RunProgram, AProgramThatDoesNotExistIsAnErrorNotAChild) {
  auto ran = run_program({"/nonexistent/bird", "-p"}, 5s);
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(ran.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(ran.error().describe(), "exec /nonexistent/bird: No such file or directory");
  EXPECT_FALSE(run_program({}, 5s).ok());
}

}  // namespace
}  // namespace kvlb::bgp
