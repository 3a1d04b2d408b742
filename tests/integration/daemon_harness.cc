#include "tests/integration/daemon_harness.h"

#include <signal.h>
#include <sys/wait.h>

#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "tests/support/status_matchers.h"

namespace inplaced::testing {

using ::testing::HasSubstr;

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
}

void DaemonHarness::SetUp() {
  ASSERT_FALSE(dir_.path().empty());
  cri_socket_ = dir_.Join("cri.sock");
  socket_ = dir_.Join("run/inplaced.sock");
}

void DaemonHarness::TearDown() {
  // Before dir_ goes: neither process may outlive the sockets and state it holds there.
  daemon_.reset();
  fake_.reset();
}

void DaemonHarness::StartFakeRuntime(std::vector<std::string> extra_flags) {
  std::vector<std::string> argv = {FAKE_CRI_SERVER_PATH, "--socket", cri_socket_};
  const std::vector<std::string> suite_flags = FakeRuntimeFlags();
  argv.insert(argv.end(), suite_flags.begin(), suite_flags.end());
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Start(argv));
  fake_ = std::make_unique<ChildProcess>(std::move(child));
  ASSERT_THAT(fake_->WaitForLine("ready", absl::Seconds(30)), IsOk());
}

void DaemonHarness::StartDaemon(std::vector<std::string> extra_flags) {
  LaunchDaemon(std::move(extra_flags));
  WaitDaemonReady();
}

void DaemonHarness::LaunchDaemon(std::vector<std::string> extra_flags) {
  // Port 0 for the probe port: suites run in parallel, each daemon on a port of its own.
  std::vector<std::string> argv = {
      INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket_, "--socket",   socket_,
      "--state-dir", dir_.Join("state"),   "--probe-address",       "127.0.0.1:0"};
  const std::vector<std::string> suite_flags = DaemonFlags();
  argv.insert(argv.end(), suite_flags.begin(), suite_flags.end());
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  if (const std::vector<std::string> environment = DaemonEnvironment(); !environment.empty()) {
    argv.insert(argv.begin(), environment.begin(), environment.end());
    argv.insert(argv.begin(), "/usr/bin/env");
  }
  ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Start(argv));
  daemon_ = std::make_unique<ChildProcess>(std::move(child));
  // A new channel per daemon process: no reconnect backoff from the previous one.
  channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
  MakeStubs();
}

void DaemonHarness::WaitDaemonReady() {
  ASSERT_OK_AND_ASSIGN(std::string ready,
                       daemon_->WaitForLine("inplaced ready", absl::Seconds(60)));
  EXPECT_THAT(ready, HasSubstr("socket=" + socket_));
}

void DaemonHarness::StopDaemon() {
  ASSERT_OK_AND_ASSIGN(int status, daemon_->Stop(SIGTERM, absl::Seconds(30)));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  daemon_.reset();
}

}  // namespace inplaced::testing
