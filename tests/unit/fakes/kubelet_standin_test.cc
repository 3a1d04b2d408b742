#include "tests/fakes/kubelet_standin.h"

#include <algorithm>
#include <map>

#include "cri/kubelet_labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/status_matchers.h"

namespace inplaced::fakes {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::SizeIs;
namespace kubelet = ::inplaced::cri::kubelet;

PodSpec WebPod() {
  PodSpec spec;
  spec.namespace_ = "default";
  spec.name = "web";
  spec.uid = "11111111-2222-3333-4444-555555555555";
  spec.labels = {{"app", "web"}};
  spec.annotations = {{"note", "x"}};
  spec.termination_grace_period_seconds = 45;
  ContainerSpec app;
  app.name = "app";
  app.image = "registry.local/web:1";
  app.command = {"sh", "-c", "sleep 3600"};
  app.pre_stop_handler_json = R"({"exec":{"command":["sh","-c","sleep 1"]}})";
  app.ports_json = R"([{"name":"http","containerPort":8080,"protocol":"TCP"}])";
  app.annotations = {{"device", "gpu0"}};
  spec.containers.push_back(app);
  ContainerSpec sidecar;
  sidecar.name = "sidecar";
  sidecar.image = "registry.local/side:1";
  spec.containers.push_back(sidecar);
  return spec;
}

class KubeletStandInTest : public ::testing::Test {
 protected:
  KubeletStandInTest() : runtime_(clock_), kubelet_(runtime_, runtime_, clock_) {}

  std::vector<criv1::Container> ContainersNamed(const std::string& name) {
    criv1::ListContainersRequest request;
    (*request.mutable_filter()->mutable_label_selector())[std::string(kubelet::kContainerName)] =
        name;
    auto listed = runtime_.ListContainers(request);
    EXPECT_OK(listed);
    std::vector<criv1::Container> out(listed->containers().begin(), listed->containers().end());
    std::sort(out.begin(), out.end(), [](const criv1::Container& a, const criv1::Container& b) {
      return a.metadata().attempt() < b.metadata().attempt();
    });
    return out;
  }

  FakeClock clock_;
  FakeRuntime runtime_;
  KubeletStandIn kubelet_;
};

TEST_F(KubeletStandInTest, RunPodCreatesKubeletLabelledObjects) {
  ASSERT_OK_AND_ASSIGN(const std::string sandbox_id, kubelet_.RunPod(WebPod()));
  criv1::PodSandboxStatusRequest sandbox_request;
  sandbox_request.set_pod_sandbox_id(sandbox_id);
  ASSERT_OK_AND_ASSIGN(auto sandbox, runtime_.PodSandboxStatus(sandbox_request));
  EXPECT_EQ(sandbox.status().labels().at(std::string(kubelet::kPodName)), "web");
  EXPECT_EQ(sandbox.status().labels().at(std::string(kubelet::kPodUid)), WebPod().uid);
  EXPECT_EQ(sandbox.status().labels().at("app"), "web");
  EXPECT_EQ(sandbox.status().annotations().at("note"), "x");
  EXPECT_TRUE(sandbox.status().network().ip().empty());  // Host network.

  const std::vector<criv1::Container> apps = ContainersNamed("app");
  ASSERT_THAT(apps, SizeIs(1));
  EXPECT_EQ(apps[0].state(), criv1::CONTAINER_RUNNING);
  EXPECT_EQ(apps[0].labels().size(), 4u);
  criv1::ContainerStatusRequest status_request;
  status_request.set_container_id(apps[0].id());
  ASSERT_OK_AND_ASSIGN(auto status, runtime_.ContainerStatus(status_request));
  const auto& annotations = status.status().annotations();
  EXPECT_EQ(annotations.at(std::string(kubelet::kContainerRestartCount)), "0");
  EXPECT_EQ(annotations.at(std::string(kubelet::kPodTerminationGracePeriod)), "45");
  EXPECT_EQ(annotations.at(std::string(kubelet::kContainerPreStopHandler)),
            R"({"exec":{"command":["sh","-c","sleep 1"]}})");
  EXPECT_TRUE(annotations.contains(std::string(kubelet::kContainerPorts)));
  EXPECT_TRUE(annotations.contains(std::string(kubelet::kContainerHash)));
  EXPECT_EQ(annotations.at(std::string(kubelet::kContainerType)), "container");
  EXPECT_EQ(annotations.at("device"), "gpu0");
  EXPECT_EQ(status.status().log_path(),
            "/var/log/pods/default_web_11111111-2222-3333-4444-555555555555/app/0.log");
  EXPECT_THAT(ContainersNamed("sidecar"), SizeIs(1));
  EXPECT_THAT(kubelet_.RunPod(WebPod()), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(KubeletStandInTest, ExitedContainerRestartsAsNextAttemptAfterBackoff) {
  ASSERT_OK(kubelet_.RunPod(WebPod()));
  const criv1::Container first = ContainersNamed("app").at(0);
  criv1::StopContainerRequest stop;
  stop.set_container_id(first.id());
  stop.set_timeout(30);
  ASSERT_OK(runtime_.StopContainer(stop));

  clock_.Advance(absl::Milliseconds(299));
  ASSERT_OK(kubelet_.SyncOnce());
  EXPECT_THAT(ContainersNamed("app"), SizeIs(1));  // Still inside the backoff.

  clock_.Advance(absl::Milliseconds(1));
  ASSERT_OK(kubelet_.SyncOnce());
  const std::vector<criv1::Container> apps = ContainersNamed("app");
  ASSERT_THAT(apps, SizeIs(2));
  const criv1::Container& second = apps[1];
  EXPECT_EQ(second.metadata().attempt(), 1u);
  EXPECT_NE(second.id(), first.id());
  EXPECT_EQ(second.state(), criv1::CONTAINER_RUNNING);
  EXPECT_EQ((std::map<std::string, std::string>(second.labels().begin(), second.labels().end())),
            (std::map<std::string, std::string>(first.labels().begin(), first.labels().end())));
  EXPECT_EQ(second.annotations().at(std::string(kubelet::kContainerRestartCount)), "1");
  EXPECT_EQ(second.annotations().at(std::string(kubelet::kContainerHash)),
            first.annotations().at(std::string(kubelet::kContainerHash)));
  criv1::ContainerStatusRequest status_request;
  status_request.set_container_id(second.id());
  ASSERT_OK_AND_ASSIGN(auto status, runtime_.ContainerStatus(status_request));
  EXPECT_THAT(status.status().log_path(), ::testing::EndsWith("/app/1.log"));
  EXPECT_EQ(kubelet_.Restarts(), 1);
  EXPECT_THAT(ContainersNamed("sidecar"), SizeIs(1));  // Untouched.

  // A sync with nothing exited changes nothing.
  ASSERT_OK(kubelet_.SyncOnce());
  EXPECT_EQ(kubelet_.Restarts(), 1);
}

TEST_F(KubeletStandInTest, KeepsOnlyOneDeadInstancePerContainer) {
  ASSERT_OK(kubelet_.RunPod(WebPod()));
  for (int round = 0; round < 3; ++round) {
    const std::vector<criv1::Container> apps = ContainersNamed("app");
    ASSERT_OK(runtime_.ExitContainer(apps.back().id(), 1));
    clock_.Advance(absl::Seconds(1));
    ASSERT_OK(kubelet_.SyncOnce());
  }
  const std::vector<criv1::Container> apps = ContainersNamed("app");
  ASSERT_THAT(apps, SizeIs(2));
  EXPECT_EQ(apps[0].metadata().attempt(), 2u);
  EXPECT_EQ(apps[0].state(), criv1::CONTAINER_EXITED);
  EXPECT_EQ(apps[1].metadata().attempt(), 3u);
  EXPECT_EQ(apps[1].state(), criv1::CONTAINER_RUNNING);
}

TEST_F(KubeletStandInTest, BackgroundLoopRestartsAndStops) {
  ASSERT_OK(kubelet_.RunPod(WebPod()));
  ASSERT_OK(runtime_.ExitContainer(ContainersNamed("app").at(0).id(), 0));
  kubelet_.Start(absl::Milliseconds(100));
  clock_.WaitForSleepers(1);  // First sync done (inside the backoff), now polling.
  clock_.Advance(absl::Milliseconds(300));
  clock_.WaitForSleepers(1);
  // The loop slept again: the second sync, past the backoff, has run.
  kubelet_.Stop();
  EXPECT_EQ(kubelet_.Restarts(), 1);
  EXPECT_THAT(ContainersNamed("app"), SizeIs(2));
}

TEST_F(KubeletStandInTest, RemovePodRemovesSandboxAndForgetsIt) {
  ASSERT_OK_AND_ASSIGN(const std::string sandbox_id, kubelet_.RunPod(WebPod()));
  ASSERT_OK(kubelet_.RemovePod("default", "web"));
  criv1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  EXPECT_THAT(runtime_.PodSandboxStatus(request), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ContainersNamed("app"), SizeIs(0));
  EXPECT_THAT(kubelet_.RemovePod("default", "web"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(kubelet_.RunPod(WebPod()));
  ASSERT_OK(kubelet_.RemoveAll());
  EXPECT_THAT(kubelet_.SandboxId("default", "web"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(KubeletStandInAdoptTest, RestartsContainersOfBulkPods) {
  FakeClock clock;
  FakeRuntime runtime(clock, RuntimeProfile::Containerd20());
  KubeletStandInOptions options;
  options.adopt_all_pods = true;
  KubeletStandIn kubelet(runtime, runtime, clock, options);
  runtime.AddPods(3, 1);
  criv1::ListContainersRequest list;
  ASSERT_OK_AND_ASSIGN(auto before, runtime.ListContainers(list));
  ASSERT_THAT(before.containers(), SizeIs(3));
  criv1::StopContainerRequest stop;
  stop.set_container_id(before.containers(0).id());
  ASSERT_OK(runtime.StopContainer(stop));
  clock.Advance(absl::Seconds(1));
  ASSERT_OK(kubelet.SyncOnce());
  EXPECT_EQ(kubelet.Restarts(), 1);
  list.mutable_filter()->mutable_state()->set_state(criv1::CONTAINER_RUNNING);
  ASSERT_OK_AND_ASSIGN(auto after, runtime.ListContainers(list));
  EXPECT_THAT(after.containers(), SizeIs(3));
}

}  // namespace
}  // namespace inplaced::fakes
