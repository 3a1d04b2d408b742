// E2e tests of the CRI client across a restart of the real containerd (e2e-env.sh
// restart-containerd): containers survive, the client's calls work again without a new Connect, and
// an event stream ends with the old process and a new one carries the events of the new process.
// Runs once per containerd version; registered RESTARTS_RUNTIME, so each test runs alone (no other
// test sees the restart).

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
using ::testing::HasSubstr;

constexpr char kNamespace[] = "e2e";
// Waits poll this often and give up after kWaitLimit (a failure, never a timing assert).
constexpr absl::Duration kPollInterval = absl::Milliseconds(50);
constexpr absl::Duration kWaitLimit = absl::Seconds(60);

class CriClientRestartE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv());
    ASSERT_OK_AND_ASSIGN(connection_, ConnectToE2eRuntime(env_));
    standin_ = std::make_unique<fakes::KubeletStandIn>(*connection_.runtime, *connection_.lifecycle,
                                                       clock_, fakes::KubeletStandInOptions());
  }

  void TearDown() override {
    if (standin_ == nullptr) return;
    standin_->Stop();
    EXPECT_OK(standin_->RemoveAll());
  }

  cri::Runtime& runtime() { return *connection_.runtime; }

  // Runs a one-container pod (`sleep 3600`) named after the test; returns the container's id.
  std::string RunSleeper() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = absl::StrCat("restart-", info->name(), "-", getpid());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    fakes::PodSpec pod;
    pod.namespace_ = kNamespace;
    pod.name = name;
    pod.uid = absl::StrCat("uid-", name);
    pod.termination_grace_period_seconds = 2;
    pod.log_directory = absl::StrCat(env_.log_dir, "/", kNamespace, "_", name, "_", pod.uid);
    pod.host_network = true;
    fakes::ContainerSpec container;
    container.name = "app";
    container.image = env_.busybox_image;
    container.command = {"sleep", "3600"};
    pod.containers.push_back(std::move(container));
    auto sandbox = standin_->RunPod(pod);
    if (!sandbox.ok()) {
      ADD_FAILURE() << "RunPod: " << sandbox.status();
      return "";
    }
    auto snapshot = cri::TakeSnapshot(runtime());
    if (!snapshot.ok()) {
      ADD_FAILURE() << "TakeSnapshot: " << snapshot.status();
      return "";
    }
    const cri::PodInfo* found = snapshot->FindPod(kNamespace, name);
    const cri::ContainerInfo* app = found == nullptr ? nullptr : found->CurrentContainer("app");
    if (app == nullptr) {
      ADD_FAILURE() << "pod " << name << " has no app container";
      return "";
    }
    return app->id;
  }

  // Calls Version through the connection made before the restart until the runtime answers (the
  // channel reconnects with backoff) or kWaitLimit passes.
  absl::Status WaitUntilAnswering() {
    const absl::Time deadline = absl::Now() + kWaitLimit;
    while (true) {
      auto version = runtime().Version(criv1::VersionRequest());
      if (version.ok() || absl::Now() >= deadline) return version.status();
      absl::SleepFor(kPollInterval);
    }
  }

  absl::StatusOr<criv1::ContainerStatus> StatusOnceAnswering(const std::string& id) {
    if (absl::Status answering = WaitUntilAnswering(); !answering.ok()) return answering;
    criv1::ContainerStatusRequest request;
    request.set_container_id(id);
    auto response = runtime().ContainerStatus(request);
    if (!response.ok()) return response.status();
    return response->status();
  }

  absl::Status Stop(const std::string& id, int64_t timeout_seconds) {
    criv1::StopContainerRequest request;
    request.set_container_id(id);
    request.set_timeout(timeout_seconds);
    return runtime().StopContainer(request);
  }

  E2eEnv env_;
  E2eConnection connection_;
  RealClock clock_;
  std::unique_ptr<fakes::KubeletStandIn> standin_;
};

TEST_F(CriClientRestartE2eTest, CrashRestartKeepsTheContainerAndTheClientReconnects) {
  const std::string id = RunSleeper();
  ASSERT_FALSE(id.empty());

  ASSERT_OK(RestartContainerd(env_, RestartMode::kCrash));
  const absl::Time restarted = absl::Now();
  ASSERT_OK_AND_ASSIGN(criv1::ContainerStatus status, StatusOnceAnswering(id));
  // Reported, not asserted.
  std::cout << "reconnect_after_restart_ms=" << absl::ToDoubleMilliseconds(absl::Now() - restarted)
            << std::endl;
  // The shim kept the container; the new containerd recovered it.
  EXPECT_EQ(status.state(), criv1::CONTAINER_RUNNING);
  EXPECT_EQ(status.id(), id);

  // Calls that change state work too.
  ASSERT_OK(Stop(id, /*timeout_seconds=*/0));
  ASSERT_OK_AND_ASSIGN(criv1::ContainerStatus stopped, StatusOnceAnswering(id));
  EXPECT_EQ(stopped.state(), criv1::CONTAINER_EXITED);
}

TEST_F(CriClientRestartE2eTest, EventStreamEndsWithTheRuntimeAndANewOneCarriesLaterEvents) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<cri::ContainerEventStream> before,
                       runtime().GetContainerEvents());
  auto recorder_before = std::make_unique<EventRecorder>(before.get());
  if (!env_.differences.streams_container_events) {
    // containerd 1.6: no stream before the restart, nor after.
    EXPECT_THAT(recorder_before->WaitForEnd(kWaitLimit),
                StatusIs(absl::StatusCode::kUnimplemented));
    ASSERT_OK(RestartContainerd(env_, RestartMode::kGraceful));
    ASSERT_OK(WaitUntilAnswering());
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<cri::ContainerEventStream> after,
                         runtime().GetContainerEvents());
    EventRecorder recorder_after(after.get());
    EXPECT_THAT(recorder_after.WaitForEnd(kWaitLimit),
                StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("GetContainerEvents")));
    return;
  }

  const std::string id = RunSleeper();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(recorder_before->WaitFor(id, criv1::CONTAINER_STARTED_EVENT, kWaitLimit).has_value())
      << "the stream carried no CONTAINER_STARTED_EVENT for " << id << " before the restart";

  ASSERT_OK(RestartContainerd(env_, RestartMode::kCrash));
  // The stream of the killed process ends with an error the daemon must treat as "reconnect".
  const absl::Status ended = recorder_before->WaitForEnd(kWaitLimit);
  std::cout << "event_stream_end_after_crash=" << ended << std::endl;
  EXPECT_THAT(ended, StatusIs(absl::StatusCode::kUnavailable));
  recorder_before.reset();

  // A stream opened after the restart (once the runtime answers) carries the new process's events.
  ASSERT_OK_AND_ASSIGN(criv1::ContainerStatus running, StatusOnceAnswering(id));
  EXPECT_EQ(running.state(), criv1::CONTAINER_RUNNING);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<cri::ContainerEventStream> after,
                       runtime().GetContainerEvents());
  EventRecorder recorder_after(after.get());
  ASSERT_OK(Stop(id, /*timeout_seconds=*/0));
  EXPECT_TRUE(recorder_after.WaitFor(id, criv1::CONTAINER_STOPPED_EVENT, kWaitLimit).has_value())
      << "no CONTAINER_STOPPED_EVENT for " << id << " on the stream opened after the restart";
}

}  // namespace
}  // namespace inplaced::e2e
