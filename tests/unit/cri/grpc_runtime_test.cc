#include "cri/grpc_runtime.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/cancellation.h"
#include "cri/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/cri/test_cri_server.h"

namespace inplaced::cri {
namespace {

using ::inplaced::cri::testing::TestCriServer;
using ::inplaced::cri::testing::TestRuntimeService;
using ::inplaced::cri::testing::TestServerOptions;
using ::inplaced::cri::testing::TimePoint;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::inplaced::testing::TempDir;
using ::testing::HasSubstr;

constexpr absl::Duration kRequestTimeout = absl::Minutes(2);

class GrpcRuntimeTest : public ::testing::Test {
 protected:
  void StartServer(const TestServerOptions& options = TestServerOptions()) {
    server_ = std::make_unique<TestCriServer>(socket_, options);
    ASSERT_TRUE(server_->ok());
  }
  std::unique_ptr<GrpcRuntime> MakeRuntime(int max_receive = 16 * 1024 * 1024) {
    return std::make_unique<GrpcRuntime>(CreateCriChannel("unix://" + socket_, max_receive),
                                         GrpcRuntimeOptions{kRequestTimeout, max_receive});
  }
  void SetUp() override {
    StartServer();
    runtime_ = MakeRuntime();
  }
  void ExpectDeadline(const std::string& method, TimePoint before, TimePoint after,
                      std::chrono::seconds expected) {
    ::inplaced::cri::testing::ExpectDeadline(server_->log, method, before, after, expected);
  }

  TempDir dir_;
  std::string socket_ = dir_.Join("cri.sock");
  std::unique_ptr<TestCriServer> server_;
  std::unique_ptr<GrpcRuntime> runtime_;
};

TEST_F(GrpcRuntimeTest, UnaryCallsCarryTheRequestTimeout) {
  const TimePoint before = std::chrono::system_clock::now();
  ASSERT_OK_AND_ASSIGN(criv1::ListContainersResponse response,
                       runtime_->ListContainers(criv1::ListContainersRequest()));
  const TimePoint after = std::chrono::system_clock::now();
  ASSERT_EQ(response.containers_size(), 1);
  EXPECT_EQ(response.containers(0).id(), "c1");
  ExpectDeadline("ListContainers", before, after, std::chrono::seconds(120));
}

TEST_F(GrpcRuntimeTest, StopContainerDeadlineCoversGracePlusRequestTimeout) {
  criv1::StopContainerRequest request;
  request.set_container_id("c1");
  request.set_timeout(30);
  const TimePoint before = std::chrono::system_clock::now();
  ASSERT_OK(runtime_->StopContainer(request));
  const TimePoint after = std::chrono::system_clock::now();
  ExpectDeadline("StopContainer", before, after, std::chrono::seconds(150));
}

TEST_F(GrpcRuntimeTest, ExecSyncWithoutTimeoutHasNoDeadline) {
  criv1::ExecSyncRequest request;
  request.set_container_id("c1");
  request.add_cmd("true");
  ASSERT_OK_AND_ASSIGN(criv1::ExecSyncResponse response, runtime_->ExecSync(request, nullptr));
  // A non-zero exit is a successful call.
  EXPECT_EQ(response.exit_code(), 3);
  EXPECT_EQ(response.stdout(), "hi");
  EXPECT_EQ(server_->log.Deadline("ExecSync"), TimePoint::max());
}

TEST_F(GrpcRuntimeTest, ExecSyncWithTimeoutGetsTimeoutPlusRequestTimeout) {
  criv1::ExecSyncRequest request;
  request.set_container_id("c1");
  request.set_timeout(10);
  const TimePoint before = std::chrono::system_clock::now();
  ASSERT_OK(runtime_->ExecSync(request, nullptr));
  const TimePoint after = std::chrono::system_clock::now();
  ExpectDeadline("ExecSync", before, after, std::chrono::seconds(130));
}

TEST_F(GrpcRuntimeTest, PullImageHasNoDeadline) {
  criv1::PullImageRequest request;
  request.mutable_image()->set_image("busybox:1");
  Cancellation cancel;
  ASSERT_OK_AND_ASSIGN(criv1::PullImageResponse response, runtime_->PullImage(request, &cancel));
  EXPECT_EQ(response.image_ref(), "sha256:busybox:1");
  EXPECT_EQ(server_->log.Deadline("PullImage"), TimePoint::max());
}

TEST_F(GrpcRuntimeTest, PullImageCancellationReachesTheServer) {
  criv1::PullImageRequest request;
  request.mutable_image()->set_image("hang");
  Cancellation cancel;
  absl::StatusOr<criv1::PullImageResponse> result;
  std::thread puller([&] { result = runtime_->PullImage(request, &cancel); });
  server_->log.hang_started.WaitForNotification();
  cancel.Cancel();
  puller.join();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kCancelled, HasSubstr("PullImage")));
  EXPECT_TRUE(server_->log.saw_cancel.WaitForNotificationWithTimeout(absl::Seconds(60)));
}

TEST_F(GrpcRuntimeTest, ExecSyncCancellationReachesTheServer) {
  criv1::ExecSyncRequest request;
  request.set_container_id("hang");
  Cancellation cancel;
  absl::StatusOr<criv1::ExecSyncResponse> result;
  std::thread exec([&] { result = runtime_->ExecSync(request, &cancel); });
  server_->log.hang_started.WaitForNotification();
  cancel.Cancel();
  exec.join();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_TRUE(server_->log.saw_cancel.WaitForNotificationWithTimeout(absl::Seconds(60)));
}

TEST_F(GrpcRuntimeTest, AlreadyCancelledTokenCancelsAtOnce) {
  criv1::PullImageRequest request;
  request.mutable_image()->set_image("hang");
  Cancellation cancel;
  cancel.Cancel();
  EXPECT_THAT(runtime_->PullImage(request, &cancel), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(GrpcRuntimeTest, StopContainerTreatsNotFoundAsSuccess) {
  criv1::StopContainerRequest stop;
  stop.set_container_id("missing");
  EXPECT_THAT(runtime_->StopContainer(stop), IsOk());
  EXPECT_TRUE(server_->log.Called("StopContainer"));
}

TEST_F(GrpcRuntimeTest, ErrorCodeAndMessageAreCarried) {
  criv1::ContainerStatusRequest request;
  request.set_container_id("missing");
  const auto result = runtime_->ContainerStatus(request);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kNotFound,
                               "ContainerStatus: container \"missing\" not found"));
  EXPECT_TRUE(cri::IsNotFound(result.status()));
}

TEST_F(GrpcRuntimeTest, IncompleteVersionIsRejected) {
  server_.reset();
  TestServerOptions options;
  options.runtime_version = "";
  StartServer(options);
  runtime_ = MakeRuntime();
  EXPECT_THAT(runtime_->Version(criv1::VersionRequest()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("runtime_version")));
}

TEST_F(GrpcRuntimeTest, ResponseAboveTheReceiveLimitIsResourceExhausted) {
  auto small = MakeRuntime(/*max_receive=*/4096);
  criv1::ListContainersRequest request;
  request.mutable_filter()->set_id("big");
  EXPECT_THAT(small->ListContainers(request),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("ListContainers")));
  EXPECT_THAT(runtime_->ListContainers(request), IsOk());
}

TEST_F(GrpcRuntimeTest, UnreachableRuntimeFailsFastWithUnavailable) {
  server_.reset();
  auto nowhere = std::make_unique<GrpcRuntime>(
      CreateCriChannel("unix://" + dir_.Join("nothing.sock"), 1 << 20), GrpcRuntimeOptions{});
  EXPECT_THAT(nowhere->ListContainers(criv1::ListContainersRequest()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("ListContainers")));
}

TEST_F(GrpcRuntimeTest, EventSubscriptionToAnUnreachableRuntimeIsUnavailable) {
  // OK would have to mean "subscribed": with nothing listening, the call says so instead of handing
  // out a stream that fails on its first Read.
  server_.reset();
  auto nowhere = std::make_unique<GrpcRuntime>(
      CreateCriChannel("unix://" + dir_.Join("nothing.sock"), 1 << 20), GrpcRuntimeOptions{});
  EXPECT_THAT(nowhere->GetContainerEvents(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("GetContainerEvents")));
}

TEST_F(GrpcRuntimeTest, EventStreamDeliversEventsThenEnds) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ContainerEventStream> stream,
                       runtime_->GetContainerEvents());
  criv1::ContainerEventResponse event;
  ASSERT_TRUE(stream->Read(&event));
  EXPECT_EQ(event.container_id(), "c1");
  EXPECT_EQ(event.container_event_type(), criv1::CONTAINER_STOPPED_EVENT);
  ASSERT_TRUE(stream->Read(&event));
  EXPECT_EQ(event.container_id(), "c2");
  EXPECT_FALSE(stream->Read(&event));
  EXPECT_THAT(stream->Finish(), IsOk());
  EXPECT_THAT(stream->Finish(), IsOk());  // repeatable
}

TEST_F(GrpcRuntimeTest, EventStreamUnimplementedArrivesOnFinish) {
  server_.reset();
  TestServerOptions options;
  options.events_mode = TestRuntimeService::EventsMode::kUnimplemented;
  StartServer(options);
  runtime_ = MakeRuntime();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ContainerEventStream> stream,
                       runtime_->GetContainerEvents());
  criv1::ContainerEventResponse event;
  EXPECT_FALSE(stream->Read(&event));
  EXPECT_THAT(stream->Finish(),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("GetContainerEvents")));
}

TEST_F(GrpcRuntimeTest, EventStreamCancelEndsReadFromAnotherThread) {
  server_.reset();
  TestServerOptions options;
  options.events_mode = TestRuntimeService::EventsMode::kHang;
  StartServer(options);
  runtime_ = MakeRuntime();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ContainerEventStream> stream,
                       runtime_->GetContainerEvents());
  bool read = true;
  std::thread reader([&] {
    criv1::ContainerEventResponse event;
    read = stream->Read(&event);
  });
  server_->log.hang_started.WaitForNotification();
  stream->Cancel();
  reader.join();
  EXPECT_FALSE(read);
  EXPECT_THAT(stream->Finish(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_TRUE(server_->log.saw_cancel.WaitForNotificationWithTimeout(absl::Seconds(60)));
}

TEST_F(GrpcRuntimeTest, DestroyingAnOpenEventStreamCancelsIt) {
  server_.reset();
  TestServerOptions options;
  options.events_mode = TestRuntimeService::EventsMode::kHang;
  StartServer(options);
  runtime_ = MakeRuntime();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ContainerEventStream> stream,
                       runtime_->GetContainerEvents());
  server_->log.hang_started.WaitForNotification();
  stream.reset();
  EXPECT_TRUE(server_->log.saw_cancel.WaitForNotificationWithTimeout(absl::Seconds(60)));
}

}  // namespace
}  // namespace inplaced::cri
