// E2e tests of container recreate: the real `inplaced` binary against the e2e environment's containerd,
// driven through its control API (generated inplaced.v1 stub over its unix socket), while a
// KubeletStandIn in this process plays kubelet on the same containerd (restarts exited containers after
// 300 ms). Covers ordered and parallel recreates, a SIGTERM-ignoring container killed after its grace
// period, an exec preStop that leaves a mark in the container checked before the kill, FAIL vs IGNORE with
// a missing container, min_started_seconds, and a crash-looping container failed at the active deadline.
//
// Every test runs its own daemon (own temp socket and state dir) and its own uniquely named pod, both
// removed in TearDown. Timing is never asserted except as semantic lower bounds derived from the runtime's
// and the daemon's own timestamps (and one generous upper bound on the deadline).

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.pb.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "common/real_clock.h"
#include "cri/connect.h"
#include "cri/runtime.h"
#include "cri/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_env.h"
#include "tests/fakes/kubelet_standin.h"
#include "tests/support/child_process.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace cri_v1 = ::runtime::v1;
namespace api = ::inplaced::v1;
using ::inplaced::testing::ChildProcess;
using ::testing::HasSubstr;

constexpr char kNamespace[] = "e2e";
// The daemon's documented messages (daemon/recreate/recreate_state_machine.h).
constexpr char kContainerNotFound[] = "not found container on Node";
constexpr char kDeadlineExceeded[] = "recreating has exceeded the activeDeadlineSeconds";
// Condition waits poll this often and give up after kWaitLimit (a failure, never a timing assert).
constexpr absl::Duration kPollInterval = absl::Milliseconds(50);
constexpr absl::Duration kWaitLimit = absl::Seconds(90);
// Lower bounds compare a daemon timestamp with a runtime one (same host clock, different rounding).
constexpr absl::Duration kClockSlack = absl::Milliseconds(100);

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// A sleeper that exits on TERM (once its trap is set; before that the grace period ends it).
std::vector<std::string> PoliteSleeper() {
  return {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done"};
}

class RecreateE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv());
    cri::ConnectOptions options;
    options.endpoint = env_.containerd_endpoint;
    options.connect_timeout = absl::Seconds(30);
    ASSERT_OK_AND_ASSIGN(connection_, cri::Connect(options));
    // Every test's output names the runtime it ran against, as the runtime answered CRI Version.
    std::cout << RuntimeBanner(connection_.version.runtime_name(), connection_.version.runtime_version(),
                               connection_.version.runtime_api_version(), connection_.endpoint)
              << std::endl;
    RecordProperty("runtime", absl::StrCat(connection_.version.runtime_name(), " ",
                                           connection_.version.runtime_version()));
    fakes::KubeletStandInOptions standin_options;
    standin_options.restart_backoff = absl::Milliseconds(300);
    standin_ = std::make_unique<fakes::KubeletStandIn>(*connection_.runtime, clock_, standin_options);

    char dir[] = "/tmp/ipe-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/inplaced.sock";
    ASSERT_OK_AND_ASSIGN(ChildProcess child,
                         ChildProcess::Start({INPLACED_PATH, "--runtime-endpoint", env_.containerd_endpoint,
                                              "--socket", socket_, "--state-dir", dir_ + "/state",
                                              "--fast-poll-ms", "50", "--slow-poll-ms", "200"}));
    daemon_ = std::make_unique<ChildProcess>(std::move(child));
    ASSERT_OK(daemon_->WaitForLine("inplaced ready", absl::Seconds(60)).status());
    stub_ = api::RecreateService::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (daemon_ != nullptr) {
      absl::StatusOr<int> status = daemon_->Stop(SIGTERM, absl::Seconds(20));
      EXPECT_OK(status.status());
      if (status.ok()) {
        EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
      }
      daemon_.reset();
    }
    if (standin_ != nullptr) {
      standin_->Stop();
      EXPECT_OK(standin_->RemoveAll());
      if (!pod_name_.empty()) {
        auto snapshot = cri::TakeSnapshot(runtime());
        ASSERT_OK(snapshot.status());
        EXPECT_EQ(snapshot->FindPod(kNamespace, pod_name_), nullptr) << "pod " << pod_name_ << " left over";
      }
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  cri::Runtime& runtime() { return *connection_.runtime; }

  fakes::ContainerSpec Container(const std::string& name, std::vector<std::string> command) {
    fakes::ContainerSpec container;
    container.name = name;
    container.image = env_.busybox_image;
    container.command = std::move(command);
    return container;
  }

  // Runs a pod named after the running test and this process (parallel ctest runs never collide), with
  // the kubelet stand-in restarting its exited containers in the background.
  void RunPod(std::vector<fakes::ContainerSpec> containers) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    pod_name_ = absl::StrCat("rc-", info->name(), "-", getpid());
    for (char& c : pod_name_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    fakes::PodSpec pod;
    pod.namespace_ = kNamespace;
    pod.name = pod_name_;
    pod.uid = absl::StrCat("uid-", pod_name_);
    pod.labels["app"] = "inplaced-e2e";
    pod.termination_grace_period_seconds = 2;
    pod.log_directory = absl::StrCat(env_.log_dir, "/", kNamespace, "_", pod_name_, "_", pod.uid);
    pod.host_network = true;
    pod.containers = std::move(containers);
    ASSERT_OK(standin_->RunPod(pod).status());
    standin_->Start(absl::Milliseconds(100));
  }

  // The pod's current instance of `container` (nullopt when absent).
  std::optional<cri::ContainerInfo> Current(const std::string& container) {
    auto snapshot = cri::TakeSnapshot(runtime());
    if (!snapshot.ok()) return std::nullopt;
    const cri::PodInfo* pod = snapshot->FindPod(kNamespace, pod_name_);
    if (pod == nullptr) return std::nullopt;
    const cri::ContainerInfo* info = pod->CurrentContainer(container);
    if (info == nullptr) return std::nullopt;
    return *info;
  }

  // The runtime's view of one instance, through cri::FillStatus (ContainerStatus).
  std::optional<cri::ContainerInfo> Instance(const std::string& container_id) {
    auto snapshot = cri::TakeSnapshot(runtime());
    EXPECT_OK(snapshot.status());
    if (!snapshot.ok()) return std::nullopt;
    EXPECT_OK(cri::FillStatus(runtime(), {container_id}, &*snapshot));
    const cri::ContainerInfo* info = snapshot->FindContainer(container_id);
    if (info == nullptr || !info->has_status) return std::nullopt;
    return *info;
  }

  absl::StatusOr<cri_v1::ExecSyncResponse> Exec(const std::string& container_id,
                                                std::vector<std::string> cmd) {
    cri_v1::ExecSyncRequest request;
    request.set_container_id(container_id);
    for (std::string& part : cmd) request.add_cmd(std::move(part));
    request.set_timeout(30);
    return runtime().ExecSync(request, /*cancel=*/nullptr);
  }

  // Runs `cmd` in the container every kPollInterval until it exits 0; false when `limit` passes first.
  bool ExecSucceedsWithin(const std::string& container_id, const std::vector<std::string>& cmd,
                          absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      absl::StatusOr<cri_v1::ExecSyncResponse> result = Exec(container_id, cmd);
      if (result.ok() && result->exit_code() == 0) return true;
      absl::SleepFor(kPollInterval);
    }
    return false;
  }

  api::CreateRecreateRequestRequest Request(const std::string& name, std::vector<std::string> containers) {
    api::CreateRecreateRequestRequest request;
    request.set_namespace_(kNamespace);
    request.set_name(name);
    request.mutable_spec()->set_pod_name(pod_name_);
    for (const std::string& container : containers)
      request.mutable_spec()->add_containers()->set_name(container);
    return request;
  }

  void Create(const api::CreateRecreateRequestRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    api::CreateRecreateRequestResponse response;
    const grpc::Status status = stub_->CreateRecreateRequest(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
    EXPECT_TRUE(response.created());
  }

  std::optional<api::RecreateRequest> Get(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    api::GetRecreateRequestRequest request;
    request.set_namespace_(kNamespace);
    request.set_name(name);
    api::GetRecreateRequestResponse response;
    const grpc::Status status = stub_->GetRecreateRequest(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
    if (!status.ok()) return std::nullopt;
    return response.recreate_request();
  }

  // Polls the request until `done` holds for it; `on_poll` sees every state read (with the time it was
  // read). Fails the test and returns the last state read when kWaitLimit passes first.
  api::RecreateRequest PollUntil(
      const std::string& name, const std::function<bool(const api::RecreateRequest&)>& done,
      const std::function<void(const api::RecreateRequest&, absl::Time)>& on_poll = nullptr) {
    api::RecreateRequest last;
    const absl::Time deadline = absl::Now() + kWaitLimit;
    while (absl::Now() < deadline) {
      std::optional<api::RecreateRequest> request = Get(name);
      const absl::Time read_at = absl::Now();
      if (request.has_value()) {
        last = *std::move(request);
        if (on_poll) on_poll(last, read_at);
        if (done(last)) return last;
      }
      absl::SleepFor(kPollInterval);
    }
    ADD_FAILURE() << "request " << name << " never reached the awaited state: " << last.DebugString();
    return last;
  }

  api::RecreateRequest WaitCompleted(
      const std::string& name,
      const std::function<void(const api::RecreateRequest&, absl::Time)>& on_poll = nullptr) {
    return PollUntil(
        name,
        [](const api::RecreateRequest& r) { return r.status().phase() == api::RECREATE_PHASE_COMPLETED; },
        on_poll);
  }

  E2eEnv env_;
  cri::Connection connection_;
  RealClock clock_;
  std::unique_ptr<fakes::KubeletStandIn> standin_;
  std::string pod_name_;
  std::string dir_;
  std::string socket_;
  std::unique_ptr<ChildProcess> daemon_;
  std::unique_ptr<api::RecreateService::Stub> stub_;
};

// A container the daemon killed and kubelet restarted once: a new ID, restart count 1, timestamps set.
void ExpectRecreatedOnce(const api::ContainerRecreateState& state, const std::string& old_id) {
  SCOPED_TRACE(state.DebugString());
  EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_TRUE(state.is_killed());
  EXPECT_EQ(state.old_container_id(), old_id);
  EXPECT_FALSE(state.new_container_id().empty());
  EXPECT_NE(state.new_container_id(), old_id);
  EXPECT_EQ(state.old_restart_count(), 0);
  EXPECT_EQ(state.restart_count(), 1);
  EXPECT_TRUE(state.has_killed_at());
  EXPECT_TRUE(state.has_restarted_at());
  EXPECT_GT(FromProto(state.restarted_at()), FromProto(state.killed_at()));
}

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
  const api::RecreateRequest done = WaitCompleted("ordered", [&](const api::RecreateRequest& r, absl::Time) {
    // Whenever the second container shows as killed, the first one has already succeeded.
    if (r.status().container_states(1).is_killed()) {
      ++polls_with_second_killed;
      EXPECT_EQ(r.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED)
          << r.DebugString();
    }
  });
  EXPECT_EQ(done.status().message(), "");
  ASSERT_EQ(done.status().container_states_size(), 2);
  const api::ContainerRecreateState& one = done.status().container_states(0);
  const api::ContainerRecreateState& two = done.status().container_states(1);
  ExpectRecreatedOnce(one, first->id);
  ExpectRecreatedOnce(two, second->id);
  EXPECT_NE(one.new_container_id(), two.new_container_id());
  EXPECT_GT(polls_with_second_killed, 0);
  // The second kill came after the first container's new instance was running (its Succeeded).
  EXPECT_GE(FromProto(two.killed_at()), FromProto(one.restarted_at())) << done.DebugString();
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
  EXPECT_EQ(done.status().message(), "");
  ASSERT_EQ(done.status().container_states_size(), 2);
  const api::ContainerRecreateState& a = done.status().container_states(0);
  const api::ContainerRecreateState& b = done.status().container_states(1);
  ExpectRecreatedOnce(a, left->id);
  ExpectRecreatedOnce(b, right->id);
  // Neither kill waited for the other container's restart.
  EXPECT_LT(FromProto(b.killed_at()), FromProto(a.restarted_at())) << done.DebugString();
  EXPECT_LT(FromProto(a.killed_at()), FromProto(b.restarted_at())) << done.DebugString();
}

TEST_F(RecreateE2eTest, TermIgnoringContainerIsKilledAfterItsGracePeriod) {
  ASSERT_NO_FATAL_FAILURE(
      RunPod({Container("stubborn", {"sh", "-c", "trap \"\" TERM; while true; do sleep 1; done"})}));
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
            FromProto(state.killed_at()) + absl::Milliseconds(1500));
}

// The hook writes the mark, then blocks until the test releases it: the test reads the mark in the old,
// still running container while the daemon reports the hook RUNNING and the container not yet killed.
constexpr char kMarkingHookScript[] =
    "echo done > /tmp/prestop-mark; while [ ! -f /tmp/prestop-release ]; do sleep 1; done";

class RecreatePreStopE2eTest : public RecreateE2eTest {
 protected:
  // Waits for the hook to run, checks the mark in the old container, releases the hook, and checks the
  // outcome. `source` is where the daemon must have found the hook.
  void ExpectMarkBeforeKill(const std::string& name, const std::string& old_id, api::PreStopSource source) {
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
    // RUNNING is persisted before the hook's exec starts: wait for the hook to have written the mark.
    ASSERT_TRUE(ExecSucceedsWithin(old_id, {"test", "-f", "/tmp/prestop-mark"}, kWaitLimit))
        << "the hook never wrote its mark";
    ASSERT_OK_AND_ASSIGN(cri_v1::ExecSyncResponse mark, Exec(old_id, {"cat", "/tmp/prestop-mark"}));
    EXPECT_EQ(mark.exit_code(), 0) << mark.stderr();
    EXPECT_EQ(mark.stdout(), "done\n");
    ASSERT_OK_AND_ASSIGN(cri_v1::ExecSyncResponse release, Exec(old_id, {"touch", "/tmp/prestop-release"}));
    ASSERT_EQ(release.exit_code(), 0) << release.stderr();

    const api::RecreateRequest done = WaitCompleted(name);
    EXPECT_EQ(done.status().message(), "");
    const api::ContainerRecreateState& state = done.status().container_states(0);
    ExpectRecreatedOnce(state, old_id);
    EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_SUCCEEDED) << state.DebugString();
    EXPECT_EQ(state.pre_stop().source(), source);
    ASSERT_TRUE(state.pre_stop().has_finished_at());
    // The kill came after the hook finished.
    EXPECT_GE(FromProto(state.killed_at()), FromProto(state.pre_stop().finished_at()));

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
  api::ExecAction* exec = request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec();
  exec->add_command("sh");
  exec->add_command("-c");
  exec->add_command(kMarkingHookScript);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  ExpectMarkBeforeKill("override", old->id, api::PRE_STOP_SOURCE_REQUEST);
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

TEST_F(RecreateE2eTest, MinStartedSecondsKeepsTheContainerRecreatingUntilItRanLongEnough) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("stable", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  request.mutable_spec()->mutable_strategy()->set_min_started_seconds(3);
  ASSERT_NO_FATAL_FAILURE(Create(request));

  // Seen by polling: the new instance running but not yet stable, and when SUCCEEDED was first seen.
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
  EXPECT_EQ(FromProto(state.restarted_at()), started);
  // Succeeded only once it had run for min_started_seconds (lower bounds: semantic, not performance).
  EXPECT_GE(FromProto(done.status().completion_time()), started + absl::Seconds(3) - kClockSlack);
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
  const absl::Time created = FromProto(done.metadata().creation_time());
  const absl::Time completed = FromProto(done.status().completion_time());
  EXPECT_GE(completed, created + absl::Seconds(8));
  // Generous: the deadline is enforced by the daemon's loop, not missed by minutes.
  EXPECT_LE(completed, created + absl::Seconds(8 + 30));
  EXPECT_GE(standin_->Restarts(), 1);
}

}  // namespace
}  // namespace inplaced::e2e
