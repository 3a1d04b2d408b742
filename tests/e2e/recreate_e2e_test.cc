// E2e tests of container recreate (fixture: tests/e2e/recreate_fixture.h). Covers ordered and
// parallel recreates, a SIGTERM-ignoring container killed after its grace period, exec and httpGet
// preStop hooks that leave a mark in the container checked before the kill, a tcpSocket hook the
// container's listener sees before the kill, a refused tcpSocket hook that still kills, the daemon
// SIGKILLed during a hook (not run again after the restart, container killed once), FAIL vs IGNORE
// with a missing container, a pod stopped by kubelet (StopPodSandbox) completing "pod has gone" at
// once, min_started_seconds, and a crash-looping container failed at the active deadline.
//
// Timing is never asserted except as semantic lower bounds derived from the runtime's and the
// daemon's own timestamps (and one generous upper bound on the deadline).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.pb.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "cri/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/recreate_fixture.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace cri_v1 = ::runtime::v1;
namespace api = ::inplaced::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// The daemon's documented messages (daemon/recreate/recreate_state_machine.h).
constexpr char kContainerNotFound[] = "not found container on Node";
constexpr char kDeadlineExceeded[] = "recreating has exceeded the activeDeadlineSeconds";
// Lower bounds compare a daemon timestamp with a runtime one (same host clock, different rounding).
constexpr absl::Duration kClockSlack = absl::Milliseconds(100);

TEST_F(RecreateE2eTest, OrderedRecreateKillsTheSecondAfterTheFirstSucceeded) {
  ASSERT_NO_FATAL_FAILURE(
      RunPod({Container("first", PoliteSleeper()), Container("second", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> first = Current("first");
  std::optional<cri::ContainerInfo> second = Current("second");
  ASSERT_TRUE(first.has_value() && second.has_value());

  api::CreateRecreateRequestRequest request = Request("ordered", {"first", "second"});
  request.mutable_spec()->mutable_strategy()->set_ordered_recreate(true);
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  ASSERT_NO_FATAL_FAILURE(Create(request));

  int polls_with_second_killed = 0;
  const api::RecreateRequest done =
      WaitCompleted("ordered", [&](const api::RecreateRequest& r, absl::Time) {
        // Whenever the second container shows as killed, the first one has already succeeded.
        if (r.status().container_states(1).is_killed()) {
          ++polls_with_second_killed;
          EXPECT_EQ(r.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED)
              << r.DebugString();
        }
      });
  ASSERT_NO_FATAL_FAILURE(ExpectAllRecreatedOnce(done, {first->id, second->id}));
  const api::ContainerRecreateState& one = done.status().container_states(0);
  const api::ContainerRecreateState& two = done.status().container_states(1);
  EXPECT_NE(one.new_container_id(), two.new_container_id());
  EXPECT_GT(polls_with_second_killed, 0);
  // The second kill came after the first container's new instance was running (its Succeeded).
  EXPECT_GE(FromProtoTime(two.killed_at()), FromProtoTime(one.restarted_at()))
      << done.DebugString();
}

TEST_F(RecreateE2eTest, ParallelRecreateKillsBothWithoutWaiting) {
  // `sleep` as PID 1 ignores TERM: each kill lasts the full grace period.
  ASSERT_NO_FATAL_FAILURE(
      RunPod({Container("left", {"sleep", "3600"}), Container("right", {"sleep", "3600"})}));
  std::optional<cri::ContainerInfo> left = Current("left");
  std::optional<cri::ContainerInfo> right = Current("right");
  ASSERT_TRUE(left.has_value() && right.has_value());

  api::CreateRecreateRequestRequest request = Request("parallel", {"left", "right"});
  request.mutable_spec()->mutable_strategy()->set_ordered_recreate(false);
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  ASSERT_NO_FATAL_FAILURE(Create(request));

  const api::RecreateRequest done = WaitCompleted("parallel");
  ASSERT_NO_FATAL_FAILURE(ExpectAllRecreatedOnce(done, {left->id, right->id}));
  const api::ContainerRecreateState& a = done.status().container_states(0);
  const api::ContainerRecreateState& b = done.status().container_states(1);
  // Neither kill waited for the other container's restart.
  EXPECT_LT(FromProtoTime(b.killed_at()), FromProtoTime(a.restarted_at())) << done.DebugString();
  EXPECT_LT(FromProtoTime(a.killed_at()), FromProtoTime(b.restarted_at())) << done.DebugString();
}

TEST_F(RecreateE2eTest, TermIgnoringContainerIsKilledAfterItsGracePeriod) {
  ASSERT_NO_FATAL_FAILURE(RunPod(
      {Container("stubborn", {"sh", "-c", "trap \"\" TERM; while true; do sleep 1; done"})}));
  std::optional<cri::ContainerInfo> old = Current("stubborn");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("stubborn", {"stubborn"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  ASSERT_NO_FATAL_FAILURE(Create(request));

  const api::RecreateRequest done = WaitCompleted("stubborn");
  EXPECT_EQ(done.status().message(), "");
  ASSERT_EQ(done.status().container_states_size(), 1);
  const api::ContainerRecreateState& state = done.status().container_states(0);
  ExpectRecreatedOnce(state, old->id);
  EXPECT_EQ(state.grace_period_seconds(), 2);
  EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_NO_HOOK);

  // The old instance died of SIGKILL (not the TERM it ignored), once the grace period was over.
  std::optional<cri::ContainerInfo> killed = Instance(old->id);
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->state, cri_v1::CONTAINER_EXITED);
  EXPECT_EQ(killed->exit_code, 137);
  EXPECT_GE(absl::FromUnixNanos(killed->finished_at),
            FromProtoTime(state.killed_at()) + absl::Milliseconds(1500));
}

// The hook writes the mark, then blocks until the test releases it: the test reads the mark in the
// old, still running container while the daemon reports the hook RUNNING and the container not yet
// killed.
constexpr char kMarkingHookScript[] =
    "echo done > /tmp/prestop-mark; while [ ! -f /tmp/prestop-release ]; do sleep 1; done";

class RecreatePreStopE2eTest : public RecreateE2eTest {
 protected:
  // Waits for the hook to run, checks the mark in the old container, releases the hook, and checks
  // the outcome. `source` is where the daemon must have found the hook.
  void ExpectMarkBeforeKill(const std::string& name, const std::string& old_id,
                            api::PreStopSource source) {
    const api::RecreateRequest running = PollUntil(name, [](const api::RecreateRequest& r) {
      return r.status().container_states(0).pre_stop().outcome() == api::PRE_STOP_OUTCOME_RUNNING ||
             r.status().phase() == api::RECREATE_PHASE_COMPLETED;
    });
    const api::ContainerRecreateState& hooked = running.status().container_states(0);
    ASSERT_EQ(hooked.pre_stop().outcome(), api::PRE_STOP_OUTCOME_RUNNING) << running.DebugString();
    EXPECT_EQ(hooked.pre_stop().source(), source);
    EXPECT_FALSE(hooked.has_killed_at());

    // The hook blocks until released, so the container is still the old, running instance.
    std::optional<cri::ContainerInfo> before_kill = Instance(old_id);
    ASSERT_TRUE(before_kill.has_value());
    EXPECT_EQ(before_kill->state, cri_v1::CONTAINER_RUNNING);
    // RUNNING is persisted before the hook's exec starts: wait for the hook to have written the
    // mark.
    ASSERT_TRUE(ExecSucceedsWithin(old_id, {"test", "-f", "/tmp/prestop-mark"}, kWaitLimit))
        << "the hook never wrote its mark";
    ASSERT_OK_AND_ASSIGN(cri_v1::ExecSyncResponse mark, Exec(old_id, {"cat", "/tmp/prestop-mark"}));
    EXPECT_EQ(mark.exit_code(), 0) << mark.stderr();
    EXPECT_EQ(mark.stdout(), "done\n");
    ASSERT_OK_AND_ASSIGN(cri_v1::ExecSyncResponse release,
                         Exec(old_id, {"touch", "/tmp/prestop-release"}));
    ASSERT_EQ(release.exit_code(), 0) << release.stderr();

    const api::RecreateRequest done = WaitCompleted(name);
    EXPECT_EQ(done.status().message(), "");
    const api::ContainerRecreateState& state = done.status().container_states(0);
    ExpectRecreatedOnce(state, old_id);
    EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_SUCCEEDED) << state.DebugString();
    EXPECT_EQ(state.pre_stop().source(), source);
    ASSERT_TRUE(state.pre_stop().has_finished_at());
    // The kill came after the hook finished.
    EXPECT_GE(FromProtoTime(state.killed_at()), FromProtoTime(state.pre_stop().finished_at()));

    // The new instance starts from a fresh filesystem: the mark belonged to the old one only.
    ASSERT_OK_AND_ASSIGN(cri_v1::ExecSyncResponse fresh,
                         Exec(state.new_container_id(), {"test", "-f", "/tmp/prestop-mark"}));
    EXPECT_NE(fresh.exit_code(), 0);
  }
};

TEST_F(RecreatePreStopE2eTest, KubeletAnnotationExecHookLeavesAMarkBeforeTheKill) {
  fakes::ContainerSpec app = Container("app", PoliteSleeper());
  app.pre_stop_handler_json =
      absl::StrCat(R"({"exec":{"command":["sh","-c",")", kMarkingHookScript, R"("]}})");
  ASSERT_NO_FATAL_FAILURE(RunPod({app}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());
  ASSERT_FALSE(old->pre_stop_handler_json.empty());

  api::CreateRecreateRequestRequest request = Request("hooked", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(60);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  ExpectMarkBeforeKill("hooked", old->id, api::PRE_STOP_SOURCE_KUBELET_ANNOTATION);
}

TEST_F(RecreatePreStopE2eTest, RequestOverrideExecHookLeavesAMarkBeforeTheKill) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("override", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(60);
  api::ExecAction* exec =
      request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec();
  exec->add_command("sh");
  exec->add_command("-c");
  exec->add_command(kMarkingHookScript);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  ExpectMarkBeforeKill("override", old->id, api::PRE_STOP_SOURCE_REQUEST);
}

TEST_F(RecreatePreStopE2eTest, DaemonKilledDuringTheHookNeverRunsItAgainAndStillKillsOnce) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("crash", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(60);
  // Every run of the hook says so on the container's stdout (its log file), then outlasts the
  // daemon.
  api::ExecAction* exec =
      request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec();
  for (const char* part : {"sh", "-c", "echo prestop-hook-ran > /proc/1/fd/1; sleep 60"})
    exec->add_command(part);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  PollUntil("crash", [](const api::RecreateRequest& r) {
    return r.status().container_states(0).pre_stop().outcome() == api::PRE_STOP_OUTCOME_RUNNING;
  });
  // The hook's exec has started in the container (RUNNING is persisted just before it).
  const absl::Time deadline = absl::Now() + kWaitLimit;
  while (ContainerLog("app", 0).find("prestop-hook-ran") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(kPollInterval);
  }
  ASSERT_THAT(ContainerLog("app", 0), HasSubstr("prestop-hook-ran"));

  ASSERT_NO_FATAL_FAILURE(KillAndRestartDaemon());

  const api::RecreateRequest done = WaitCompleted("crash");
  ASSERT_NO_FATAL_FAILURE(ExpectAllRecreatedOnce(done, {old->id}));
  const api::PreStopStatus& hook = done.status().container_states(0).pre_stop();
  EXPECT_EQ(hook.outcome(), api::PRE_STOP_OUTCOME_INTERRUPTED) << hook.DebugString();
  EXPECT_THAT(hook.message(), HasSubstr("restarted while the hook ran"));
  // The hook ran once, in the old instance only: the restarted daemon stopped the container
  // instead.
  const std::string log = ContainerLog("app", 0);
  EXPECT_EQ(log.find("prestop-hook-ran"), log.rfind("prestop-hook-ran")) << log;
  EXPECT_THAT(ContainerLog("app", 1), Not(HasSubstr("prestop-hook-ran")));
  EXPECT_THAT(DaemonLogLines("interrupted_kills=1"), SizeIs(1));
  EXPECT_THAT(DaemonLogLines("prestop_interrupted"), SizeIs(1)) << "never silent";
}

// A shell test (run in the container) that something listens on TCP `port`.
std::string ListeningOn(int port) { return absl::StrCat("netstat -ltn | grep -q ':", port, " '"); }

// busybox httpd on 127.0.0.1:$PORT serving /cgi-bin/prestop, a CGI that runs kMarkingHookScript (so
// the hook blocks until the test releases it), then answers 200.
fakes::ContainerSpec HttpdWithMarkingCgi(fakes::ContainerSpec container, int port) {
  container.envs.emplace_back("PORT", std::to_string(port));
  container.envs.emplace_back("CGI",
                              absl::StrCat("#!/bin/sh\n", kMarkingHookScript,
                                           "\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\n"));
  container.command = {"sh", "-c",
                       "mkdir -p /www/cgi-bin && printf '%s' \"$CGI\" > /www/cgi-bin/prestop && "
                       "chmod +x /www/cgi-bin/prestop && httpd -p 127.0.0.1:$PORT -h /www && "
                       "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done"};
  return container;
}

TEST_F(RecreatePreStopE2eTest, HttpGetHookReachesTheContainersServerBeforeTheKill) {
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  ASSERT_NO_FATAL_FAILURE(RunPod({HttpdWithMarkingCgi(Container("web", {}), port)}));
  std::optional<cri::ContainerInfo> old = Current("web");
  ASSERT_TRUE(old.has_value());
  // httpd serves before the hook is asked for (it daemonizes once listening).
  ASSERT_TRUE(ExecSucceedsWithin(old->id, {"sh", "-c", ListeningOn(port)}, kWaitLimit))
      << "httpd never listened";

  api::CreateRecreateRequestRequest request = Request("http-hook", {"web"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(60);
  // Host network: no pod IP to default to, so the hook names the host, as it must for such pods.
  api::HttpGetAction* http =
      request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_http_get();
  http->set_host("127.0.0.1");
  http->set_port_number(port);
  http->set_path("/cgi-bin/prestop");
  ASSERT_NO_FATAL_FAILURE(Create(request));
  ExpectMarkBeforeKill("http-hook", old->id, api::PRE_STOP_SOURCE_REQUEST);
}

TEST_F(RecreatePreStopE2eTest, TcpSocketHookConnectsToTheContainerBeforeTheKill) {
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  // nc accepts one connection and leaves a file; on TERM (the kill, after the hook) the container
  // says on stdout (its log file) whether the connection came first (nc may need a moment to notice
  // it ended).
  fakes::ContainerSpec app = Container(
      "app",
      {"sh", "-c",
       absl::StrCat("(nc -l -p ", port,
                    " </dev/null >/dev/null && touch /tmp/accepted) & "
                    "trap 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -f /tmp/accepted ] && break; sleep "
                    "0.1; done; "
                    "[ -f /tmp/accepted ] && echo prestop-connection-accepted; exit 0' TERM; "
                    "while true; do sleep 1 & wait $!; done")});
  ASSERT_NO_FATAL_FAILURE(RunPod({app}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());
  ASSERT_TRUE(ExecSucceedsWithin(old->id, {"sh", "-c", ListeningOn(port)}, kWaitLimit))
      << "nc never listened";

  api::CreateRecreateRequestRequest request = Request("tcp-hook", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(30);
  api::TcpSocketAction* tcp =
      request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_tcp_socket();
  tcp->set_host("127.0.0.1");
  tcp->set_port_number(port);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  const api::RecreateRequest done = WaitCompleted("tcp-hook");
  const api::ContainerRecreateState& state = done.status().container_states(0);
  ExpectRecreatedOnce(state, old->id);
  EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_SUCCEEDED) << state.DebugString();
  EXPECT_GE(FromProtoTime(state.killed_at()), FromProtoTime(state.pre_stop().finished_at()));
  // The old instance (attempt 0) saw the hook's connection; the new one (attempt 1) is listening
  // again.
  EXPECT_THAT(ContainerLog("app", 0), HasSubstr("prestop-connection-accepted"));
  EXPECT_THAT(ContainerLog("app", 1), Not(HasSubstr("prestop-connection-accepted")));
}

TEST_F(RecreatePreStopE2eTest, FailedTcpSocketHookStillKills) {
  const int port = FreeLoopbackPort();  // nothing listens there
  ASSERT_GT(port, 0);
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("refused-hook", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(30);
  api::TcpSocketAction* tcp =
      request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_tcp_socket();
  tcp->set_host("127.0.0.1");
  tcp->set_port_number(port);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  const api::RecreateRequest done = WaitCompleted("refused-hook");
  const api::ContainerRecreateState& state = done.status().container_states(0);
  // A failed hook is recorded and the kill goes on, as kubelet does.
  ExpectRecreatedOnce(state, old->id);
  EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_FAILED) << state.DebugString();
  EXPECT_FALSE(state.pre_stop().message().empty());
}

TEST_F(RecreateE2eTest, FailPolicyStopsAtAMissingContainerAndIgnoreGoesOn) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest fail = Request("fail", {"ghost", "app"});
  fail.mutable_spec()->mutable_strategy()->set_failure_policy(api::FAILURE_POLICY_FAIL);
  fail.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  ASSERT_NO_FATAL_FAILURE(Create(fail));
  const api::RecreateRequest failed = WaitCompleted("fail");
  ASSERT_EQ(failed.status().container_states_size(), 2);
  EXPECT_EQ(failed.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  EXPECT_EQ(failed.status().container_states(0).message(), kContainerNotFound);
  const api::ContainerRecreateState& untouched = failed.status().container_states(1);
  EXPECT_EQ(untouched.phase(), api::CONTAINER_RECREATE_PHASE_PENDING) << untouched.DebugString();
  EXPECT_FALSE(untouched.is_killed());
  EXPECT_FALSE(untouched.has_killed_at());
  EXPECT_THAT(untouched.message(), HasSubstr("not attempted"));
  std::optional<cri::ContainerInfo> still = Current("app");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->id, old->id);
  EXPECT_EQ(still->state, cri_v1::CONTAINER_RUNNING);

  api::CreateRecreateRequestRequest ignore = Request("ignore", {"ghost", "app"});
  ignore.mutable_spec()->mutable_strategy()->set_failure_policy(api::FAILURE_POLICY_IGNORE);
  ignore.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  ASSERT_NO_FATAL_FAILURE(Create(ignore));
  const api::RecreateRequest ignored = WaitCompleted("ignore");
  ASSERT_EQ(ignored.status().container_states_size(), 2);
  EXPECT_EQ(ignored.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  EXPECT_EQ(ignored.status().container_states(0).message(), kContainerNotFound);
  ExpectRecreatedOnce(ignored.status().container_states(1), old->id);
}

TEST_F(RecreateE2eTest, PodStoppedByKubeletCompletesPodGoneAtOnce) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  // Waits for AcknowledgeUnready, which never comes: the request stays open until the pod goes.
  api::CreateRecreateRequestRequest request = Request("deleted", {"app"});
  request.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(5);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  std::optional<api::RecreateRequest> pending = Get("deleted");
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->status().phase(), api::RECREATE_PHASE_PENDING);

  // kubelet deletes the pod: StopPodSandbox first (sandbox NOTREADY, containers stopped); the
  // containers and the sandbox are still listed while the request must already be over.
  standin_->Stop();  // no restart of the stopped containers
  ASSERT_OK_AND_ASSIGN(const std::string sandbox,
                       standin_->SandboxId(kRecreateNamespace, pod_name_));
  cri_v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(sandbox);
  ASSERT_OK(connection_.lifecycle->StopPodSandbox(stop));
  const api::RecreateRequest done = WaitCompleted("deleted");
  EXPECT_EQ(done.status().message(), "pod has gone") << done.DebugString();
  EXPECT_NE(done.status().container_states(0).message(), kContainerNotFound);
  EXPECT_FALSE(done.status().container_states(0).is_killed());
  // The sandbox was still there (NOTREADY) when the request completed.
  cri_v1::PodSandboxStatusRequest status;
  status.set_pod_sandbox_id(sandbox);
  ASSERT_OK_AND_ASSIGN(const cri_v1::PodSandboxStatusResponse listed,
                       runtime().PodSandboxStatus(status));
  EXPECT_EQ(listed.status().state(), cri_v1::SANDBOX_NOTREADY);
}

TEST_F(RecreateE2eTest, MinStartedSecondsKeepsTheContainerRecreatingUntilItRanLongEnough) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("stable", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  request.mutable_spec()->mutable_strategy()->set_min_started_seconds(3);
  ASSERT_NO_FATAL_FAILURE(Create(request));

  // Seen by polling: the new instance running but not yet stable, and when SUCCEEDED was first
  // seen.
  bool saw_waiting_for_stability = false;
  std::optional<absl::Time> first_seen_succeeded;
  const api::RecreateRequest done =
      WaitCompleted("stable", [&](const api::RecreateRequest& r, absl::Time at) {
        const api::ContainerRecreateState& state = r.status().container_states(0);
        if (state.phase() == api::CONTAINER_RECREATE_PHASE_RECREATING && state.has_restarted_at()) {
          saw_waiting_for_stability = true;
          EXPECT_THAT(state.message(), HasSubstr("min_started_seconds"));
        }
        if (state.phase() == api::CONTAINER_RECREATE_PHASE_SUCCEEDED && !first_seen_succeeded) {
          first_seen_succeeded = at;
        }
      });
  const api::ContainerRecreateState& state = done.status().container_states(0);
  ExpectRecreatedOnce(state, old->id);
  EXPECT_TRUE(saw_waiting_for_stability);
  ASSERT_TRUE(first_seen_succeeded.has_value());

  // restarted_at is the runtime's StartedAt of the new instance.
  std::optional<cri::ContainerInfo> fresh = Instance(state.new_container_id());
  ASSERT_TRUE(fresh.has_value());
  const absl::Time started = absl::FromUnixNanos(fresh->started_at);
  EXPECT_EQ(FromProtoTime(state.restarted_at()), started);
  // Succeeded only once it had run for min_started_seconds (lower bounds: semantic, not
  // performance).
  EXPECT_GE(FromProtoTime(done.status().completion_time()),
            started + absl::Seconds(3) - kClockSlack);
  EXPECT_GE(*first_seen_succeeded, started + absl::Seconds(3) - kClockSlack);
  // And it is still the same, running instance.
  std::optional<cri::ContainerInfo> now = Current("app");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->id, state.new_container_id());
}

TEST_F(RecreateE2eTest, CrashLoopingContainerFailsAtTheActiveDeadline) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("crasher", {"sh", "-c", "sleep 1; exit 1"})}));
  ASSERT_TRUE(Current("crasher").has_value());

  api::CreateRecreateRequestRequest request = Request("crashloop", {"crasher"});
  request.mutable_spec()->set_active_deadline_seconds(8);
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  // No instance ever runs 3 s, so the container can never succeed before the deadline.
  request.mutable_spec()->mutable_strategy()->set_min_started_seconds(3);
  ASSERT_NO_FATAL_FAILURE(Create(request));

  const api::RecreateRequest done = WaitCompleted("crashloop");
  EXPECT_EQ(done.status().message(), kDeadlineExceeded);
  ASSERT_EQ(done.status().container_states_size(), 1);
  EXPECT_EQ(done.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  EXPECT_EQ(done.status().container_states(0).message(), kDeadlineExceeded);
  const absl::Time created = FromProtoTime(done.metadata().creation_time());
  const absl::Time completed = FromProtoTime(done.status().completion_time());
  EXPECT_GE(completed, created + absl::Seconds(8));
  // Generous: the deadline is enforced by the daemon's loop, not missed by minutes.
  EXPECT_LE(completed, created + absl::Seconds(8 + 30));
  EXPECT_GE(standin_->Restarts(), 1);
}

}  // namespace
}  // namespace inplaced::e2e
