#pragma once

// The fixture of the recreate e2e suites: the real `inplaced` binary against the e2e environment's
// containerd, driven through its control API (generated inplaced.v1 stub over its unix socket),
// while a KubeletStandIn in the test process plays kubelet on the same containerd (restarts exited
// containers after 300 ms).
//
// Every test runs its own daemon (own temp socket, state dir and log file) and its own uniquely
// named pod, both removed in TearDown; a failed test prints the daemon's log
// (INPLACED_E2E_DAEMON_LOG=1: every test). Waits poll for a condition and fail after kWaitLimit:
// timing is never asserted beyond semantic bounds.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.pb.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "common/proto_time.h"  // FromProtoTime, for the suites
#include "common/real_clock.h"
#include "cri/connect.h"
#include "cri/runtime.h"
#include "cri/snapshot.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/e2e_runtime.h"
#include "tests/fakes/kubelet_standin.h"
#include "tests/support/child_process.h"

namespace inplaced::e2e {

inline constexpr char kRecreateNamespace[] = "e2e";
// Condition waits poll this often and give up after kWaitLimit (a failure, never a timing assert).
inline constexpr absl::Duration kPollInterval = absl::Milliseconds(50);
inline constexpr absl::Duration kWaitLimit = absl::Seconds(90);

// A TCP port on 127.0.0.1 that nothing listens on now, -1 if none could be had (pods are
// host-network: they share the host's ports, and other tests run beside this one).
int FreeLoopbackPort();

// A sleeper that exits on TERM (once its trap is set; before that the grace period ends it).
std::vector<std::string> PoliteSleeper();

// A container the daemon killed and kubelet restarted once: a new ID, restart count 1, timestamps
// set.
void ExpectRecreatedOnce(const ::inplaced::v1::ContainerRecreateState& state,
                         const std::string& old_id);

// The value of `key` in one of the daemon's key=value log lines ("" when absent), e.g.
// LogField("... container=app via=event delay_ms=12", "via") == "event".
std::string LogField(const std::string& line, const std::string& key);

// A completed request without a message whose containers were each recreated once
// (ExpectRecreatedOnce), `old_ids` in the request's container order.
void ExpectAllRecreatedOnce(const ::inplaced::v1::RecreateRequest& done,
                            const std::vector<std::string>& old_ids);

class RecreateE2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The daemon's poll flags; suites that tell events from polls apart override them.
  virtual std::vector<std::string> DaemonPollFlags() const {
    return {"--fast-poll-ms", "50", "--slow-poll-ms", "200"};
  }

  // SIGKILLs the daemon, as a crash would, and starts it again on the same state dir and socket.
  void KillAndRestartDaemon();

  cri::Runtime& runtime() { return *connection_.runtime; }
  const std::string& runtime_version() const { return connection_.version.runtime_version(); }

  fakes::ContainerSpec Container(const std::string& name, std::vector<std::string> command) const;
  // Runs a pod named after the running test and this process (parallel ctest runs never collide),
  // with the kubelet stand-in restarting its exited containers in the background.
  void RunPod(std::vector<fakes::ContainerSpec> containers,
              int64_t termination_grace_period_seconds = 2);

  // The pod's current instance of `container` (nullopt when absent).
  std::optional<cri::ContainerInfo> Current(const std::string& container);
  // The runtime's view of one instance, through cri::FillStatus (ContainerStatus).
  std::optional<cri::ContainerInfo> Instance(const std::string& container_id);
  absl::StatusOr<::runtime::v1::ExecSyncResponse> Exec(const std::string& container_id,
                                                       std::vector<std::string> cmd);
  // Runs `cmd` in the container every kPollInterval until it exits 0; false when `limit` passes
  // first.
  bool ExecSucceedsWithin(const std::string& container_id, const std::vector<std::string>& cmd,
                          absl::Duration limit);

  ::inplaced::v1::CreateRecreateRequestRequest Request(const std::string& name,
                                                       std::vector<std::string> containers) const;
  void Create(const ::inplaced::v1::CreateRecreateRequestRequest& request);
  std::optional<::inplaced::v1::RecreateRequest> Get(const std::string& name);
  // Polls the request until `done` holds for it; `on_poll` sees every state read (with the time it
  // was read). Fails the test and returns the last state read when kWaitLimit passes first.
  ::inplaced::v1::RecreateRequest PollUntil(
      const std::string& name,
      const std::function<bool(const ::inplaced::v1::RecreateRequest&)>& done,
      const std::function<void(const ::inplaced::v1::RecreateRequest&, absl::Time)>& on_poll =
          nullptr);
  ::inplaced::v1::RecreateRequest WaitCompleted(
      const std::string& name,
      const std::function<void(const ::inplaced::v1::RecreateRequest&, absl::Time)>& on_poll =
          nullptr);

  // What instance `attempt` of `container` wrote to stdout/stderr, from the log file the runtime
  // keeps under the pod's log directory (CRI log format: one "<time> <stream> <tag> <text>" line
  // per line).
  std::string ContainerLog(const std::string& container, int attempt) const;

  // The daemon's log lines (its stderr) so far that contain `needle`.
  std::vector<std::string> DaemonLogLines(const std::string& needle) const;

  // Starts the daemon (stderr appended to daemon_log_) and makes stub_ once it is ready.
  virtual void StartDaemon();

  E2eEnv env_;
  E2eConnection connection_;
  RealClock clock_;
  std::unique_ptr<fakes::KubeletStandIn> standin_;
  std::string pod_name_;
  std::string pod_log_directory_;
  std::string dir_;
  std::string socket_;
  std::string daemon_log_;
  std::unique_ptr<::inplaced::testing::ChildProcess> daemon_;
  std::unique_ptr<::inplaced::v1::RecreateService::Stub> stub_;
};

}  // namespace inplaced::e2e
