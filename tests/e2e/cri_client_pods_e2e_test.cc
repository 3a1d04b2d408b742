// E2e tests of the CRI client (cri/) with real pods on the e2e environment's containerd:
// host-network sandboxes and containers run by the kubelet stand-in, found again through the node
// snapshot, exec'd into, stopped (TERM honoured / ignored) and restarted with the next attempt.
//
// Every test runs its own uniquely named pod (safe under ctest -j) and removes it in TearDown. The
// suite runs once per containerd version of the matrix; where versions differ (the event stream)
// the test asks E2eEnv::differences.

#include <unistd.h>

#include <cctype>
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
#include "common/real_clock.h"
#include "cri/connect.h"
#include "cri/kubelet_labels.h"
#include "cri/runtime.h"
#include "cri/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/e2e_runtime.h"
#include "tests/e2e/event_recorder.h"
#include "tests/fakes/kubelet_standin.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace criv1 = ::runtime::v1;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::SizeIs;

constexpr char kNamespace[] = "e2e";
// Condition waits poll this often and give up after kWaitLimit (a failure, never a timing assert).
constexpr absl::Duration kPollInterval = absl::Milliseconds(100);
constexpr absl::Duration kWaitLimit = absl::Seconds(60);

class CriClientPodsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv());
    ASSERT_OK_AND_ASSIGN(connection_, ConnectToE2eRuntime(env_));
    fakes::KubeletStandInOptions standin_options;
    standin_options.restart_backoff = absl::Milliseconds(300);
    standin_ = std::make_unique<fakes::KubeletStandIn>(*connection_.runtime, *connection_.lifecycle,
                                                       clock_, standin_options);
  }

  void TearDown() override {
    if (standin_ == nullptr) return;
    standin_->Stop();
    EXPECT_OK(standin_->RemoveAll());
    // The pod is gone from the runtime, not only from the stand-in.
    auto snapshot = cri::TakeSnapshot(runtime());
    ASSERT_OK(snapshot.status());
    EXPECT_EQ(snapshot->FindPod(kNamespace, pod_name_), nullptr)
        << "pod " << pod_name_ << " left over";
  }

  cri::Runtime& runtime() { return *connection_.runtime; }

  // A pod named after the running test and this process, so parallel ctest runs never collide.
  fakes::PodSpec MakePod(std::vector<fakes::ContainerSpec> containers) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    pod_name_ = absl::StrCat("cri-", info->name(), "-", getpid());
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
    return pod;
  }

  fakes::ContainerSpec Container(const std::string& name, std::vector<std::string> command) {
    fakes::ContainerSpec container;
    container.name = name;
    container.image = env_.busybox_image;
    container.command = std::move(command);
    return container;
  }

  static std::vector<std::string> Shell(const std::string& script) { return {"sh", "-c", script}; }

  // The pod's current instance of `container` as the snapshot sees it (nullopt when absent).
  std::optional<cri::ContainerInfo> Current(const std::string& container) {
    auto snapshot = cri::TakeSnapshot(runtime());
    if (!snapshot.ok()) return std::nullopt;
    const cri::PodInfo* pod = snapshot->FindPod(kNamespace, pod_name_);
    if (pod == nullptr) return std::nullopt;
    const cri::ContainerInfo* info = pod->CurrentContainer(container);
    if (info == nullptr) return std::nullopt;
    return *info;
  }

  // Runs stand-in syncs until the current instance of `container` is RUNNING with `attempt`.
  std::optional<cri::ContainerInfo> SyncUntilRunning(const std::string& container,
                                                     uint32_t attempt) {
    const absl::Time deadline = absl::Now() + kWaitLimit;
    while (absl::Now() < deadline) {
      absl::Status synced = standin_->SyncOnce();
      if (!synced.ok()) ADD_FAILURE() << "SyncOnce: " << synced;
      std::optional<cri::ContainerInfo> info = Current(container);
      if (info && info->attempt == attempt && info->state == criv1::CONTAINER_RUNNING) return info;
      absl::SleepFor(kPollInterval);
    }
    return std::nullopt;
  }

  absl::StatusOr<criv1::ContainerStatus> Status(const std::string& container_id) {
    criv1::ContainerStatusRequest request;
    request.set_container_id(container_id);
    auto response = runtime().ContainerStatus(request);
    if (!response.ok()) return response.status();
    return response->status();
  }

  absl::Status Stop(const std::string& container_id, int64_t timeout_seconds) {
    criv1::StopContainerRequest request;
    request.set_container_id(container_id);
    request.set_timeout(timeout_seconds);
    return runtime().StopContainer(request);
  }

  // Runs `cmd` in the container every kPollInterval until it exits 0; false when `limit` passes
  // first.
  bool ExecSucceedsWithin(const std::string& container_id, const std::vector<std::string>& cmd,
                          absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      auto result = Exec(container_id, cmd);
      if (result.ok() && result->exit_code() == 0) return true;
      absl::SleepFor(kPollInterval);
    }
    return false;
  }

  absl::StatusOr<criv1::ExecSyncResponse> Exec(const std::string& container_id,
                                               std::vector<std::string> cmd) {
    criv1::ExecSyncRequest request;
    request.set_container_id(container_id);
    for (std::string& part : cmd) request.add_cmd(std::move(part));
    request.set_timeout(30);
    return runtime().ExecSync(request, /*cancel=*/nullptr);
  }

  E2eEnv env_;
  E2eConnection connection_;
  RealClock clock_;
  std::unique_ptr<fakes::KubeletStandIn> standin_;
  std::string pod_name_;
};

TEST_F(CriClientPodsE2eTest, SnapshotFindsStandInPodByKubeletLabels) {
  fakes::PodSpec spec =
      MakePod({Container("app", {"sleep", "3600"}), Container("sidecar", {"sleep", "3600"})});
  ASSERT_OK_AND_ASSIGN(std::string sandbox_id, standin_->RunPod(spec));

  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(runtime()));
  const cri::PodInfo* pod = snapshot.FindPod(kNamespace, spec.name);
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->uid, spec.uid);
  EXPECT_EQ(pod->sandbox.id, sandbox_id);
  EXPECT_EQ(pod->sandbox.state, criv1::SANDBOX_READY);
  EXPECT_EQ(snapshot.FindPodByUid(spec.uid), pod);
  EXPECT_EQ(snapshot.FindPodBySandboxId(sandbox_id), pod);

  std::vector<std::string> names;
  for (const cri::ContainerInfo* container : pod->CurrentContainers()) {
    names.push_back(container->name);
    EXPECT_EQ(container->state, criv1::CONTAINER_RUNNING) << container->name;
    EXPECT_EQ(container->attempt, 0u);
    EXPECT_EQ(container->restart_count, 0);
    EXPECT_EQ(container->pod_sandbox_id, sandbox_id);
    EXPECT_FALSE(container->hash.empty());
    EXPECT_EQ(container->termination_grace_period_seconds, 2);
    EXPECT_EQ(snapshot.FindPodOfContainer(container->id), pod);
  }
  EXPECT_THAT(names, ElementsAre("app", "sidecar"));

  // The same pod through a kubelet-style label query.
  criv1::ListContainersRequest request;
  (*request.mutable_filter()->mutable_label_selector())[std::string(cri::kubelet::kPodUid)] =
      spec.uid;
  ASSERT_OK_AND_ASSIGN(criv1::ListContainersResponse listed, runtime().ListContainers(request));
  EXPECT_THAT(listed.containers(), SizeIs(2));

  // The sandbox status of a host-network pod.
  criv1::PodSandboxStatusRequest status_request;
  status_request.set_pod_sandbox_id(sandbox_id);
  ASSERT_OK_AND_ASSIGN(criv1::PodSandboxStatusResponse status,
                       runtime().PodSandboxStatus(status_request));
  EXPECT_EQ(status.status().metadata().name(), spec.name);
  EXPECT_EQ(status.status().metadata().namespace_(), kNamespace);
  EXPECT_EQ(status.status().linux().namespaces().options().network(), criv1::NODE);

  ASSERT_OK(standin_->RemovePod(kNamespace, spec.name));
  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot after, cri::TakeSnapshot(runtime()));
  EXPECT_EQ(after.FindPod(kNamespace, spec.name), nullptr);
}

TEST_F(CriClientPodsE2eTest, ExecSyncReturnsOutputAndExitCode) {
  ASSERT_OK(standin_->RunPod(MakePod({Container("app", {"sleep", "3600"})})).status());
  std::optional<cri::ContainerInfo> app = Current("app");
  ASSERT_TRUE(app.has_value());

  ASSERT_OK_AND_ASSIGN(criv1::ExecSyncResponse version, Exec(app->id, {"cat", "/etc/version"}));
  EXPECT_EQ(version.exit_code(), 0);
  EXPECT_EQ(version.stdout(), "1\n");
  EXPECT_EQ(version.stderr(), "");

  // A failing command is a successful call with the exit code set.
  ASSERT_OK_AND_ASSIGN(criv1::ExecSyncResponse failed,
                       Exec(app->id, Shell("echo out; echo err >&2; exit 3")));
  EXPECT_EQ(failed.exit_code(), 3);
  EXPECT_EQ(failed.stdout(), "out\n");
  EXPECT_EQ(failed.stderr(), "err\n");
}

TEST_F(CriClientPodsE2eTest, StopOfTermHonouringContainerExitsWith143) {
  ASSERT_OK(
      standin_
          ->RunPod(MakePod({Container("polite", Shell("trap 'exit 143' TERM; touch /tmp/trapped; "
                                                      "while true; do sleep 1 & wait $!; done"))}))
          .status());
  std::optional<cri::ContainerInfo> polite = Current("polite");
  ASSERT_TRUE(polite.has_value());
  // A TERM before the shell set its trap would be ignored (PID 1) and end in SIGKILL after the
  // grace period (seen under load): stop only once the trap is in place.
  ASSERT_TRUE(ExecSucceedsWithin(polite->id, {"test", "-f", "/tmp/trapped"}, kWaitLimit))
      << "the container never set its TERM trap";

  ASSERT_OK(Stop(polite->id, /*timeout_seconds=*/30));
  ASSERT_OK_AND_ASSIGN(criv1::ContainerStatus status, Status(polite->id));
  EXPECT_EQ(status.state(), criv1::CONTAINER_EXITED);
  EXPECT_EQ(status.exit_code(), 143);
  EXPECT_GT(status.finished_at(), 0);
}

TEST_F(CriClientPodsE2eTest, StopOfTermIgnoringContainerKillsAfterTimeoutAndStandInRestartsIt) {
  ASSERT_OK(standin_
                ->RunPod(MakePod(
                    {Container("stubborn", Shell("trap '' TERM; while true; do sleep 1; done"))}))
                .status());
  std::optional<cri::ContainerInfo> first = Current("stubborn");
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->state, criv1::CONTAINER_RUNNING);

  const absl::Time before = absl::Now();
  ASSERT_OK(Stop(first->id, /*timeout_seconds=*/2));
  // Only a lower bound: the runtime waited for the grace period before SIGKILL.
  EXPECT_GE(absl::Now() - before, absl::Milliseconds(1500));

  ASSERT_OK_AND_ASSIGN(criv1::ContainerStatus stopped, Status(first->id));
  EXPECT_EQ(stopped.state(), criv1::CONTAINER_EXITED);
  EXPECT_EQ(stopped.exit_code(), 137);  // SIGKILL, not the TERM it ignored

  std::optional<cri::ContainerInfo> second = SyncUntilRunning("stubborn", /*attempt=*/1);
  ASSERT_TRUE(second.has_value()) << "the stand-in did not restart the container";
  EXPECT_NE(second->id, first->id);
  EXPECT_EQ(second->restart_count, 1);  // io.kubernetes.container.restartCount annotation
  EXPECT_GE(standin_->Restarts(), 1);

  // The snapshot keeps the previous, exited instance beside the new one (kubectl logs --previous).
  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(runtime()));
  const cri::PodInfo* pod = snapshot.FindPod(kNamespace, pod_name_);
  ASSERT_NE(pod, nullptr);
  auto instances = pod->Instances("stubborn");
  ASSERT_THAT(instances, SizeIs(2));
  EXPECT_EQ(instances[0].id, second->id);
  EXPECT_EQ(instances[1].id, first->id);
  EXPECT_EQ(instances[1].state, criv1::CONTAINER_EXITED);

  // FillStatus reads the exit code of the old instance through ContainerStatus.
  ASSERT_OK(cri::FillStatus(runtime(), {first->id}, &snapshot));
  const cri::ContainerInfo* old = snapshot.FindContainer(first->id);
  ASSERT_NE(old, nullptr);
  EXPECT_TRUE(old->has_status);
  EXPECT_EQ(old->exit_code, 137);
}

TEST_F(CriClientPodsE2eTest, StopContainerIsStreamedAsStoppedEventWhereTheRuntimeHasEvents) {
  // Opened through cri::Connect's runtime before the pod exists, so every event of the pod is after
  // it.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<cri::ContainerEventStream> stream,
                       runtime().GetContainerEvents());
  if (!env_.differences.streams_container_events) {
    // containerd 1.6: the stream ends at once; Finish says why. The daemon polls instead.
    criv1::ContainerEventResponse event;
    EXPECT_FALSE(stream->Read(&event));
    EXPECT_THAT(stream->Finish(), StatusIs(absl::StatusCode::kUnimplemented,
                                           ::testing::HasSubstr("GetContainerEvents")));
    pod_name_ = "none";
    return;
  }
  EventRecorder recorder(stream.get());
  ASSERT_OK(standin_->RunPod(MakePod({Container("app", {"sleep", "3600"})})).status());
  std::optional<cri::ContainerInfo> app = Current("app");
  ASSERT_TRUE(app.has_value());
  ASSERT_TRUE(recorder.WaitFor(app->id, criv1::CONTAINER_STARTED_EVENT, kWaitLimit).has_value())
      << "no CONTAINER_STARTED_EVENT for " << app->id;

  const absl::Time stop_called = absl::Now();
  ASSERT_OK(Stop(app->id, /*timeout_seconds=*/0));
  std::optional<criv1::ContainerEventResponse> stopped =
      recorder.WaitFor(app->id, criv1::CONTAINER_STOPPED_EVENT, kWaitLimit);
  ASSERT_TRUE(stopped.has_value()) << "no CONTAINER_STOPPED_EVENT for " << app->id;
  // Reported, not asserted (the machine is noisy).
  std::cout << "stop_event_delay_ms="
            << absl::ToDoubleMilliseconds(
                   recorder.ArrivalOf(app->id, criv1::CONTAINER_STOPPED_EVENT) - stop_called)
            << std::endl;

  // The event carries the sandbox and its containers' statuses, the stopped one EXITED.
  EXPECT_EQ(stopped->pod_sandbox_status().metadata().name(), pod_name_);
  EXPECT_EQ(stopped->pod_sandbox_status().id(), app->pod_sandbox_id);
  bool exited = false;
  for (const criv1::ContainerStatus& status : stopped->containers_statuses()) {
    if (status.id() == app->id) exited = status.state() == criv1::CONTAINER_EXITED;
  }
  EXPECT_TRUE(exited) << stopped->DebugString();
}

TEST_F(CriClientPodsE2eTest, UnknownContainerIsNotFoundForStatusAndIgnoredByStop) {
  const std::string unknown(64, 'f');
  EXPECT_THAT(Status(unknown), StatusIs(absl::StatusCode::kNotFound));
  // containerd 1.6.20 answers NOT_FOUND here; the client makes StopContainer idempotent like
  // kubelet.
  EXPECT_OK(Stop(unknown, /*timeout_seconds=*/2));
  pod_name_ = "none";
}

}  // namespace
}  // namespace inplaced::e2e
