#include "cri/grpc_runtime.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
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

// The answer of one asynchronous call, and the thread its `done` ran on.
template <typename Result>
struct AsyncResult {
  absl::Notification done;
  Result result;
  std::thread::id thread;

  auto Callback() {
    return [this](Result answer) {
      result = std::move(answer);
      thread = std::this_thread::get_id();
      done.Notify();
    };
  }
  bool Wait() { return done.WaitForNotificationWithTimeout(absl::Seconds(60)); }
};

TEST_F(GrpcRuntimeTest, StopContainerAsyncHasTheSyncDeadlineAndRunsDoneOnAGrpcThread) {
  criv1::StopContainerRequest request;
  request.set_container_id("c1");
  request.set_timeout(30);
  AsyncResult<absl::Status> stop;
  const TimePoint before = std::chrono::system_clock::now();
  runtime_->StopContainerAsync(request, nullptr, stop.Callback());
  ASSERT_TRUE(stop.Wait());
  const TimePoint after = std::chrono::system_clock::now();
  EXPECT_OK(stop.result);
  EXPECT_NE(stop.thread, std::this_thread::get_id());
  ExpectDeadline("StopContainer", before, after, std::chrono::seconds(150));
}

TEST_F(GrpcRuntimeTest, StopContainerAsyncTreatsNotFoundAsSuccess) {
  criv1::StopContainerRequest request;
  request.set_container_id("missing");
  AsyncResult<absl::Status> stop;
  runtime_->StopContainerAsync(request, nullptr, stop.Callback());
  ASSERT_TRUE(stop.Wait());
  EXPECT_OK(stop.result);
  EXPECT_TRUE(server_->log.Called("StopContainer"));
}

TEST_F(GrpcRuntimeTest, ExecSyncAsyncAnswersLikeExecSyncWithTheSameDeadlines) {
  criv1::ExecSyncRequest request;
  request.set_container_id("c1");
  request.add_cmd("true");
  AsyncResult<absl::StatusOr<criv1::ExecSyncResponse>> exec;
  runtime_->ExecSyncAsync(request, nullptr, exec.Callback());
  ASSERT_TRUE(exec.Wait());
  ASSERT_OK(exec.result.status());
  EXPECT_EQ(exec.result->exit_code(), 3);
  EXPECT_EQ(exec.result->stdout(), "hi");
  EXPECT_EQ(server_->log.Deadline("ExecSync"), TimePoint::max()) << "timeout 0: no deadline";

  request.set_timeout(10);
  AsyncResult<absl::StatusOr<criv1::ExecSyncResponse>> timed;
  const TimePoint before = std::chrono::system_clock::now();
  runtime_->ExecSyncAsync(request, nullptr, timed.Callback());
  ASSERT_TRUE(timed.Wait());
  const TimePoint after = std::chrono::system_clock::now();
  ASSERT_OK(timed.result.status());
  ExpectDeadline("ExecSync", before, after, std::chrono::seconds(130));
}

TEST_F(GrpcRuntimeTest, ExecSyncAsyncErrorsCarryTheCallName) {
  criv1::ExecSyncRequest request;
  request.set_container_id("missing");
  AsyncResult<absl::StatusOr<criv1::ExecSyncResponse>> exec;
  runtime_->ExecSyncAsync(request, nullptr, exec.Callback());
  ASSERT_TRUE(exec.Wait());
  EXPECT_THAT(exec.result, StatusIs(absl::StatusCode::kNotFound, HasSubstr("ExecSync")));
}

TEST_F(GrpcRuntimeTest, ManyAsyncStopsInFlightWithoutAThreadEachAndOneCancellationEndsThem) {
  // More calls in flight than any pool the daemon had (16): the caller spends no thread on them.
  constexpr int kCalls = 24;
  criv1::StopContainerRequest request;
  request.set_container_id("hang");
  request.set_timeout(40);
  Cancellation cancel;
  std::vector<std::unique_ptr<AsyncResult<absl::Status>>> stops;
  for (int i = 0; i < kCalls; ++i) {
    stops.push_back(std::make_unique<AsyncResult<absl::Status>>());
    runtime_->StopContainerAsync(request, &cancel, stops.back()->Callback());
  }
  ASSERT_TRUE(server_->log.WaitHanging(kCalls, absl::Seconds(60)));
  for (const auto& stop : stops) EXPECT_FALSE(stop->done.HasBeenNotified());
  cancel.Cancel();
  for (const auto& stop : stops) {
    ASSERT_TRUE(stop->Wait());
    EXPECT_THAT(stop->result, StatusIs(absl::StatusCode::kCancelled, HasSubstr("StopContainer")));
  }
}

TEST_F(GrpcRuntimeTest, ExecSyncAsyncCancellationReachesTheServer) {
  criv1::ExecSyncRequest request;
  request.set_container_id("hang");
  Cancellation cancel;
  AsyncResult<absl::StatusOr<criv1::ExecSyncResponse>> exec;
  runtime_->ExecSyncAsync(request, &cancel, exec.Callback());
  server_->log.hang_started.WaitForNotification();
  cancel.Cancel();
  ASSERT_TRUE(exec.Wait());
  EXPECT_THAT(exec.result, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_TRUE(server_->log.saw_cancel.WaitForNotificationWithTimeout(absl::Seconds(60)));
}

TEST_F(GrpcRuntimeTest, AsyncCallWithAnAlreadyCancelledTokenEndsCancelled) {
  criv1::ExecSyncRequest request;
  request.set_container_id("hang");
  Cancellation cancel;
  cancel.Cancel();
  AsyncResult<absl::StatusOr<criv1::ExecSyncResponse>> exec;
  runtime_->ExecSyncAsync(request, &cancel, exec.Callback());
  ASSERT_TRUE(exec.Wait());
  EXPECT_THAT(exec.result, StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(GrpcRuntimeTest, AsyncCallToAnUnreachableRuntimeIsUnavailable) {
  server_.reset();
  auto nowhere = std::make_unique<GrpcRuntime>(
      CreateCriChannel("unix://" + dir_.Join("nothing.sock"), 1 << 20), GrpcRuntimeOptions{});
  criv1::StopContainerRequest request;
  request.set_container_id("c1");
  AsyncResult<absl::Status> stop;
  nowhere->StopContainerAsync(request, nullptr, stop.Callback());
  ASSERT_TRUE(stop.Wait());
  EXPECT_THAT(stop.result, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("StopContainer")));
}

TEST_F(GrpcRuntimeTest, KillCallsGoOverTheKillChannelAndTheRestOverTheMainOne) {
  // The main channel leads nowhere: whatever answers came over the kill channel.
  GrpcRuntime split(CreateCriChannel("unix://" + dir_.Join("nothing.sock"), 1 << 20),
                    GrpcRuntimeOptions{kRequestTimeout, 1 << 20},
                    CreateCriChannel("unix://" + socket_, 1 << 20, /*own_connection=*/true));
  criv1::StopContainerRequest stop;
  stop.set_container_id("c1");
  EXPECT_THAT(split.StopContainer(stop), IsOk());
  AsyncResult<absl::Status> stopped;
  split.StopContainerAsync(stop, nullptr, stopped.Callback());
  ASSERT_TRUE(stopped.Wait());
  EXPECT_THAT(stopped.result, IsOk());
  criv1::ExecSyncRequest exec;
  exec.set_container_id("c1");
  exec.set_timeout(5);
  ASSERT_OK_AND_ASSIGN(criv1::ExecSyncResponse response, split.ExecSync(exec, nullptr));
  EXPECT_EQ(response.exit_code(), 3);
  AsyncResult<absl::StatusOr<criv1::ExecSyncResponse>> execed;
  split.ExecSyncAsync(exec, nullptr, execed.Callback());
  ASSERT_TRUE(execed.Wait());
  EXPECT_THAT(execed.result, IsOk());
  EXPECT_TRUE(server_->log.Called("StopContainer"));
  EXPECT_TRUE(server_->log.Called("ExecSync"));
  EXPECT_THAT(split.ListContainers(criv1::ListContainersRequest()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("ListContainers")));
  EXPECT_THAT(split.ContainerStatus(criv1::ContainerStatusRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(GrpcRuntimeTest, ConnectKillChannelConnectsItBeforeAnyKill) {
  std::shared_ptr<grpc::Channel> kill_channel =
      CreateCriChannel("unix://" + socket_, 1 << 20, /*own_connection=*/true);
  GrpcRuntime runtime(CreateCriChannel("unix://" + socket_, 1 << 20),
                      GrpcRuntimeOptions{kRequestTimeout, 1 << 20}, kill_channel);
  // gRPC connects a channel at its first call, not before.
  EXPECT_EQ(kill_channel->GetState(/*try_to_connect=*/false), GRPC_CHANNEL_IDLE);

  runtime.ConnectKillChannel();
  // Watched without asking for a connection (WaitForConnected would ask).
  const auto deadline = absl::ToChronoTime(absl::Now() + absl::Seconds(10));
  grpc_connectivity_state state = kill_channel->GetState(/*try_to_connect=*/false);
  while (state != GRPC_CHANNEL_READY && kill_channel->WaitForStateChange(state, deadline)) {
    state = kill_channel->GetState(/*try_to_connect=*/false);
  }
  EXPECT_EQ(state, GRPC_CHANNEL_READY);
  EXPECT_FALSE(server_->log.Called("StopContainer"));
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
