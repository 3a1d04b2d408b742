// The CRI client (GrpcRuntime, Connect, snapshot), the kubelet stand-in (over GrpcPodLifecycle) and
// inplacectl against the fake CRI server binary over a real unix socket.

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/real_clock.h"
#include "cri/connect.h"
#include "cri/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/grpc_pod_lifecycle.h"
#include "tests/fakes/kubelet_standin.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

namespace criv1 = ::runtime::v1;
using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::Eventually;
using ::inplaced::testing::IsOk;
using ::testing::HasSubstr;

// The fake server alone answers fast: this suite's waits give up sooner than Eventually's default.
constexpr absl::Duration kWaitLimit = absl::Seconds(20);

class FakeCriServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/inplaced-it-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/cri.sock";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(std::vector<std::string> extra_flags = {}) {
    std::vector<std::string> argv = {FAKE_CRI_SERVER_PATH, "--socket", socket_};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Start(argv));
    server_ = std::make_unique<ChildProcess>(std::move(child));
    ASSERT_THAT(server_->WaitForLine("ready", absl::Seconds(30)), IsOk());
  }

  absl::StatusOr<cri::Connection> ConnectToServer() {
    cri::ConnectOptions options;
    options.endpoint = "unix://" + socket_;
    return cri::Connect(options);
  }

  static fakes::PodSpec WebPod(const std::string& name) {
    fakes::PodSpec pod;
    pod.namespace_ = "it";
    pod.name = name;
    pod.uid = "uid-" + name;
    pod.log_directory = "/tmp/inplaced-it-logs/" + name;
    for (const char* container : {"app", "sidecar"}) {
      fakes::ContainerSpec spec;
      spec.name = container;
      spec.image = "localhost/busybox:1";
      spec.command = {"sleep", "3600"};
      pod.containers.push_back(spec);
    }
    return pod;
  }

  std::string dir_;
  std::string socket_;
  std::unique_ptr<ChildProcess> server_;
  RealClock clock_;
};

TEST_F(FakeCriServerTest, ConnectReportsEachProfilesRuntime) {
  struct Case {
    std::string profile, runtime_name;
  };
  for (const Case& c : std::vector<Case>{{"containerd-1.6", "containerd"}, {"cri-o", "cri-o"}}) {
    SCOPED_TRACE(c.profile);
    StartServer({"--profile", c.profile});
    ASSERT_OK_AND_ASSIGN(cri::Connection conn, ConnectToServer());
    EXPECT_EQ(conn.version.runtime_name(), c.runtime_name);
    EXPECT_EQ(conn.version.runtime_api_version(), "v1");
    EXPECT_EQ(conn.endpoint, "unix://" + socket_);
    server_.reset();
  }
}

TEST_F(FakeCriServerTest, StandInPodIsFoundByKubeletLabelsInSnapshot) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(cri::Connection conn, ConnectToServer());
  fakes::GrpcPodLifecycle lifecycle(conn.endpoint);
  fakes::KubeletStandIn standin(*conn.runtime, lifecycle, clock_);
  ASSERT_OK_AND_ASSIGN(std::string sandbox_id, standin.RunPod(WebPod("web")));

  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(*conn.runtime));
  const cri::PodInfo* pod = snapshot.FindPod("it", "web");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->uid, "uid-web");
  EXPECT_EQ(pod->sandbox.id, sandbox_id);
  const cri::ContainerInfo* app = pod->CurrentContainer("app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->state, criv1::CONTAINER_RUNNING);
  EXPECT_EQ(app->restart_count, 0);
  EXPECT_NE(pod->CurrentContainer("sidecar"), nullptr);
  EXPECT_OK(standin.RemoveAll());
}

TEST_F(FakeCriServerTest, StoppedContainerComesBackAsAttemptOneWithNewId) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(cri::Connection conn, ConnectToServer());
  fakes::KubeletStandInOptions options;
  options.restart_backoff = absl::Milliseconds(100);
  fakes::GrpcPodLifecycle lifecycle(conn.endpoint);
  fakes::KubeletStandIn standin(*conn.runtime, lifecycle, clock_, options);
  ASSERT_THAT(standin.RunPod(WebPod("restart")), IsOk());
  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot before, cri::TakeSnapshot(*conn.runtime));
  const std::string old_id = before.FindPod("it", "restart")->CurrentContainer("app")->id;

  criv1::StopContainerRequest stop;
  stop.set_container_id(old_id);
  stop.set_timeout(2);
  ASSERT_OK(conn.runtime->StopContainer(stop));
  standin.Start(absl::Milliseconds(50));

  std::string new_id;
  int64_t restart_count = -1;
  ASSERT_TRUE(Eventually(
      [&] {
        absl::StatusOr<cri::NodeSnapshot> now = cri::TakeSnapshot(*conn.runtime);
        if (!now.ok()) return false;
        const cri::ContainerInfo* app = now->FindPod("it", "restart")->CurrentContainer("app");
        if (app == nullptr || app->state != criv1::CONTAINER_RUNNING || app->id == old_id)
          return false;
        new_id = app->id;
        restart_count = app->restart_count;
        return true;
      },
      kWaitLimit));
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(restart_count, 1);
  standin.Stop();
  EXPECT_OK(standin.RemoveAll());
}

TEST_F(FakeCriServerTest, ClientReconnectsAfterRuntimeRestart) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(cri::Connection conn, ConnectToServer());
  ASSERT_THAT(conn.runtime->Version(criv1::VersionRequest()), IsOk());

  server_.reset();  // SIGTERM by PID, reaped
  EXPECT_FALSE(conn.runtime->Version(criv1::VersionRequest()).ok());
  StartServer();

  // The same client, no new Connect: gRPC's reconnect backoff (≤ 3 s) brings it back.
  EXPECT_TRUE(
      Eventually([&] { return conn.runtime->Version(criv1::VersionRequest()).ok(); }, kWaitLimit));
}

TEST_F(FakeCriServerTest, SnapshotOfAThousandPodsOverTheSocket) {
  StartServer({"--pods", "1000", "--containers-per-pod", "2"});
  ASSERT_OK_AND_ASSIGN(cri::Connection conn, ConnectToServer());
  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(*conn.runtime));
  EXPECT_EQ(snapshot.pods().size(), 1000u);
  EXPECT_EQ(snapshot.container_count(), 2000u);
  EXPECT_EQ(snapshot.ignored_containers(), 0u);
}

TEST_F(FakeCriServerTest, StopOfUnknownContainerIsOkOnEveryProfile) {
  for (const std::string profile : {"containerd-1.6", "containerd-2.0", "cri-o"}) {
    SCOPED_TRACE(profile);
    StartServer({"--profile", profile});
    ASSERT_OK_AND_ASSIGN(cri::Connection conn, ConnectToServer());
    criv1::StopContainerRequest stop;
    stop.set_container_id("0123456789abcdef");
    EXPECT_OK(conn.runtime->StopContainer(stop));
    criv1::ContainerStatusRequest status;
    status.set_container_id("0123456789abcdef");
    EXPECT_THAT(conn.runtime->ContainerStatus(status),
                ::inplaced::testing::StatusIs(absl::StatusCode::kNotFound));
    server_.reset();
  }
}

TEST_F(FakeCriServerTest, InplacectlRuntimePsShowsThePods) {
  StartServer();
  ASSERT_OK_AND_ASSIGN(cri::Connection conn, ConnectToServer());
  fakes::GrpcPodLifecycle lifecycle(conn.endpoint);
  fakes::KubeletStandIn standin(*conn.runtime, lifecycle, clock_);
  ASSERT_THAT(standin.RunPod(WebPod("shown")), IsOk());

  ASSERT_OK_AND_ASSIGN(ChildProcess ps,
                       ChildProcess::Start({INPLACECTL_PATH, "runtime", "ps", "-n", "it",
                                            "--runtime-endpoint", "unix://" + socket_}));
  const std::string out = ps.ReadAll(absl::Seconds(20));
  ASSERT_OK_AND_ASSIGN(int status, ps.Stop(SIGTERM, absl::Seconds(5)));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_THAT(out, HasSubstr("shown"));
  EXPECT_THAT(out, HasSubstr("sidecar"));
  EXPECT_THAT(out, HasSubstr("running"));

  ASSERT_OK_AND_ASSIGN(ChildProcess version,
                       ChildProcess::Start({INPLACECTL_PATH, "runtime", "version",
                                            "--runtime-endpoint", "unix://" + socket_}));
  EXPECT_THAT(version.ReadAll(absl::Seconds(20)),
              HasSubstr("runtime=containerd version=1.6.20~ds1 api=v1"));
  EXPECT_OK(standin.RemoveAll());
}

}  // namespace
}  // namespace inplaced
