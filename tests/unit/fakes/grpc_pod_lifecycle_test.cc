#include "tests/fakes/grpc_pod_lifecycle.h"

#include <chrono>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/cri/test_cri_server.h"

namespace inplaced::fakes {
namespace {

namespace criv1 = ::runtime::v1;
using ::inplaced::cri::testing::ExpectDeadline;
using ::inplaced::cri::testing::TestCriServer;
using ::inplaced::cri::testing::TestServerOptions;
using ::inplaced::cri::testing::TimePoint;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::inplaced::testing::TempDir;
using ::testing::HasSubstr;

// GrpcPodLifecycle against the cri/ unit tests' CRI server: kubelet's deadlines and error mapping.
class GrpcPodLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  TempDir dir_;
  std::string socket_ = dir_.Join("cri.sock");
  TestCriServer server_{socket_, TestServerOptions()};
  GrpcPodLifecycle lifecycle_{"unix://" + socket_};
};

TEST_F(GrpcPodLifecycleTest, RunPodSandboxGetsTwiceTheRequestTimeout) {
  const TimePoint before = std::chrono::system_clock::now();
  ASSERT_OK_AND_ASSIGN(criv1::RunPodSandboxResponse response,
                       lifecycle_.RunPodSandbox(criv1::RunPodSandboxRequest()));
  const TimePoint after = std::chrono::system_clock::now();
  EXPECT_EQ(response.pod_sandbox_id(), "sb-1");
  ExpectDeadline(server_.log, "RunPodSandbox", before, after, std::chrono::seconds(240));
}

TEST_F(GrpcPodLifecycleTest, OtherCallsCarryTheRequestTimeout) {
  criv1::StartContainerRequest start;
  start.set_container_id("c1");
  const TimePoint before = std::chrono::system_clock::now();
  ASSERT_OK(lifecycle_.StartContainer(start));
  const TimePoint after = std::chrono::system_clock::now();
  ExpectDeadline(server_.log, "StartContainer", before, after, std::chrono::seconds(120));
}

TEST_F(GrpcPodLifecycleTest, RemoveContainerTreatsNotFoundAsSuccess) {
  criv1::RemoveContainerRequest remove;
  remove.set_container_id("missing");
  EXPECT_THAT(lifecycle_.RemoveContainer(remove), IsOk());
  EXPECT_TRUE(server_.log.Called("RemoveContainer"));
}

TEST_F(GrpcPodLifecycleTest, StartContainerOfAnUnknownIdKeepsNotFound) {
  criv1::StartContainerRequest start;
  start.set_container_id("missing");
  EXPECT_THAT(
      lifecycle_.StartContainer(start),
      StatusIs(absl::StatusCode::kNotFound, "StartContainer: container \"missing\" not found"));
}

TEST_F(GrpcPodLifecycleTest, UnservedCallAnswersUnimplementedNamingTheCall) {
  EXPECT_THAT(lifecycle_.ListImages(criv1::ListImagesRequest()),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("ListImages: ")));
}

TEST_F(GrpcPodLifecycleTest, UnreachableRuntimeFailsFastWithUnavailable) {
  GrpcPodLifecycle nowhere("unix://" + dir_.Join("nothing.sock"));
  EXPECT_THAT(nowhere.RunPodSandbox(criv1::RunPodSandboxRequest()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("RunPodSandbox")));
}

}  // namespace
}  // namespace inplaced::fakes
