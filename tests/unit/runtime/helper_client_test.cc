// RunHelper against small shell scripts standing in for berth-lxc-helper.

#include "lxc/helper_client.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lxc/fs_util.h"

namespace berth::runtime::lxc {
namespace {

using ::testing::HasSubstr;

class RunHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/berth-helper-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { EXPECT_TRUE(RemoveTree(dir_).ok()); }

  // Writes an executable script and returns its path.
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomically(path, "#!/bin/sh\n" + body, 0755).ok());
    return path;
  }

  absl::Status Run(const std::string& path, absl::Duration timeout = absl::Seconds(30)) {
    return RunHelper(path, HelperOp::kStart, {"/lxcpath", "name"}, timeout);
  }

  std::string dir_;
};

TEST_F(RunHelperTest, ExitZeroIsOk) { EXPECT_TRUE(Run(Script("ok", "echo fine\nexit 0\n")).ok()); }

TEST_F(RunHelperTest, ExitCodeCarriesTheStatusCodeAndStdoutTheMessage) {
  absl::Status status = Run(Script("nf", "echo 'Container \"name\" does not exist'\nexit 105\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "Container \"name\" does not exist");
  status = Run(Script("fp", "printf 'is RUNNING' >&2\nexit 109\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "is RUNNING");
}

TEST_F(RunHelperTest, GetsItsArgumentsAndAClosedStdinAndNoOtherFds) {
  absl::Status status = Run(Script("args",
                                   "echo \"$1 $2 $3\"\n"
                                   "test -t 0 && echo tty\n"
                                   "read x || echo stdin-eof\n"
                                   "echo fds: $(ls /proc/self/fd | wc -l)\n"
                                   "exit 113\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("start /lxcpath name"));
  EXPECT_THAT(status.message(), HasSubstr("stdin-eof"));
  // 0, 1, 2 and the one ls opens to read the directory.
  EXPECT_THAT(status.message(), HasSubstr("fds: 4"));
}

TEST_F(RunHelperTest, ForeignExitCodeIsInternal) {
  absl::Status status = Run(Script("one", "echo 'some library gave up'\nexit 1\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("unexpected code 1"));
  EXPECT_THAT(status.message(), HasSubstr("some library gave up"));
}

TEST_F(RunHelperTest, KilledBySignalIsInternalNamingTheSignal) {
  absl::Status status = Run(Script("segv", "echo dying\nkill -SEGV $$\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("SIGSEGV"));
  EXPECT_THAT(status.message(), HasSubstr("dying"));
}

TEST_F(RunHelperTest, MissingHelperIsInternal) {
  absl::Status status = Run(dir_ + "/does-not-exist");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
}

TEST_F(RunHelperTest, OutputIsBounded) {
  // 1 MiB of output: read and dropped past the bound, never blocking the writer.
  absl::Status status = Run(Script("big", "head -c 1048576 /dev/zero | tr '\\0' x\nexit 113\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_LE(status.message().size(), kMaxHelperOutputBytes);
  EXPECT_GE(status.message().size(), kMaxHelperOutputBytes / 2);
}

TEST_F(RunHelperTest, DoesNotWaitForEofWhenAGrandchildHoldsThePipe) {
  // Like a daemonized container monitor that kept the helper's stdout: the script leaves a
  // background process holding the pipe open, reports its pid and exits. RunHelper must return
  // on the exit (waiting for EOF would run into the 60 s timeout instead).
  absl::Status status =
      Run(Script("bg", "sleep 1000 &\necho \"$!\"\nexit 113\n"), absl::Seconds(60));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  pid_t pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(status.message(), &pid)) << status.message();
  EXPECT_EQ(::kill(pid, SIGKILL), 0);  // it was still running, holding the pipe
}

TEST_F(RunHelperTest, TimeoutKillsTheHelper) {
  absl::Status status =
      Run(Script("slow", "echo started\nexec sleep 1000\n"), absl::Milliseconds(300));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("started"));
}

}  // namespace
}  // namespace berth::runtime::lxc
