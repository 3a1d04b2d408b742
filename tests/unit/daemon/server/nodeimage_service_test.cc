#include "daemon/server/nodeimage_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
#include "daemon/server/serving_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/puller.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/memory_store.h"
#include "tests/support/each_of.h"
#include "tests/support/log_capture.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/daemon/server/mock_nodeimage_manager.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::EachOf;
using ::testing::_;
using ::testing::ByMove;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::StrictMock;

constexpr char kSecret[] = R"({"auths":{"reg.example.com":{"auth":"dXNlcjpodW50ZXIy"}}})";

api::NodeImageSpec SpecOf(const std::string& name, const std::vector<std::string>& tags) {
  api::NodeImageSpec spec;
  api::ImageSpec* image = spec.add_images();
  image->set_name(name);
  for (const std::string& tag : tags) image->add_tags()->set_tag(tag);
  return spec;
}

bool AllSucceeded(const api::NodeImage& node) {
  return node.status().desired() > 0 && node.status().succeeded() == node.status().desired();
}

// The service on an in-process gRPC server.
class ServedService {
 protected:
  ServedService() : service_(state_, absl::Milliseconds(10)) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = api::NodeImageService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  // Before whatever the handlers use goes.
  void StopServing() {
    service_.StopStreams();
    server_->Shutdown();
  }

  ServingState state_;
  NodeImageServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::NodeImageService::Stub> stub_;
};

// The service over a real ImagePuller on the fake runtime and clock.
class NodeImageServiceTest : public ::testing::Test, public ServedService {
 protected:
  ~NodeImageServiceTest() override { StopServing(); }

  void Serve() {
    absl::StatusOr<std::unique_ptr<imagepull::ImagePuller>> puller =
        imagepull::ImagePuller::Create(runtime_, clock_, store_, nullptr);
    ASSERT_TRUE(puller.ok()) << puller.status();
    puller_ = *std::move(puller);
    service_.SetManager(puller_.get());
    state_.SetServing();
  }

  grpc::Status Set(const api::NodeImageSpec& spec, int64_t expected_generation,
                   api::SetNodeImageResponse* response) {
    grpc::ClientContext context;
    api::SetNodeImageRequest request;
    *request.mutable_spec() = spec;
    request.set_expected_generation(expected_generation);
    return stub_->SetNodeImage(&context, request, response);
  }

  grpc::Status Get(api::NodeImage* out) {
    grpc::ClientContext context;
    api::GetNodeImageResponse response;
    grpc::Status status = stub_->GetNodeImage(&context, api::GetNodeImageRequest(), &response);
    *out = response.node_image();
    return status;
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_{clock_};
  fakes::MemoryStore store_;
  std::unique_ptr<imagepull::ImagePuller> puller_;  // destroyed after the server shut down
};

TEST_F(NodeImageServiceTest, CallsBeforeThePullerIsSetAreUnavailable) {
  state_.SetServing();  // serving, but no puller yet
  api::NodeImage node;
  EXPECT_EQ(Get(&node).error_code(), grpc::StatusCode::UNAVAILABLE);
  api::SetNodeImageResponse set;
  EXPECT_EQ(Set(SpecOf("nginx", {"1.25"}), 0, &set).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::ClientContext context;
  api::PullImageRequest pull;
  pull.set_image("nginx:1.25");
  api::PullImageResponse response;
  EXPECT_EQ(stub_->PullImage(&context, pull, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(runtime_.Pulls().empty());
}

TEST_F(NodeImageServiceTest, CallsWhileStoppingAreUnavailable) {
  Serve();
  state_.SetStopping();
  api::NodeImage node;
  EXPECT_EQ(Get(&node).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(NodeImageServiceTest, SetThenGetReportsEveryTagSucceeded) {
  Serve();
  api::SetNodeImageResponse set;
  ASSERT_TRUE(Set(SpecOf("nginx", {"1.25", "1.26"}), 0, &set).ok());
  EXPECT_EQ(set.node_image().metadata().generation(), 1);
  EXPECT_EQ(set.node_image().status().desired(), 2);

  puller_->AwaitState(
      [](const api::NodeImage& node, int running) { return running == 0 && AllSucceeded(node); });
  api::NodeImage node;
  ASSERT_TRUE(Get(&node).ok());
  EXPECT_EQ(node.status().succeeded(), 2);
  ASSERT_EQ(node.spec().images_size(), 1);
  EXPECT_EQ(node.spec().images(0).tags(0).pull_policy().timeout_seconds(), 600);  // defaulted
  EXPECT_EQ(node.status().images(0).tags(1).phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
}

TEST_F(NodeImageServiceTest, StaleGenerationIsAborted) {
  Serve();
  api::SetNodeImageResponse set;
  ASSERT_TRUE(Set(SpecOf("nginx", {"1.25"}), 0, &set).ok());
  const grpc::Status stale = Set(SpecOf("nginx", {"1.26"}), 0, &set);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  api::NodeImage node;
  ASSERT_TRUE(Get(&node).ok());
  EXPECT_EQ(node.spec().images(0).tags(0).tag(), "1.25");  // unchanged
}

TEST_F(NodeImageServiceTest, InvalidSpecIsInvalidArgumentNamingTheField) {
  Serve();
  api::SetNodeImageResponse set;
  const grpc::Status bad = Set(SpecOf("nginx", {"1.25", "1.25"}), 0, &set);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("spec.images[0].tags[1].tag"));
}

TEST_F(NodeImageServiceTest, SecretsAreNeverReturned) {
  Serve();
  api::NodeImageSpec spec = SpecOf("reg.example.com/app", {"1"});
  spec.mutable_images(0)->add_pull_secrets(kSecret);
  api::SetNodeImageResponse set;
  ASSERT_TRUE(Set(spec, 0, &set).ok());
  EXPECT_EQ(set.node_image().spec().images(0).pull_secrets_size(), 0);
  EXPECT_EQ(set.node_image().spec().images(0).pull_secret_count(), 1);
  api::NodeImage node;
  ASSERT_TRUE(Get(&node).ok());
  EXPECT_THAT(node.DebugString(), Not(HasSubstr("dXNlcjpodW50ZXIy")));
  EXPECT_EQ(node.spec().images(0).pull_secret_count(), 1);
}

TEST_F(NodeImageServiceTest, WatchSendsInitialStateThenChangesUntilTheClientCancels) {
  Serve();
  grpc::ClientContext context;
  auto reader = stub_->WatchNodeImage(&context, api::WatchNodeImageRequest());
  api::WatchNodeImageResponse message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.node_image().metadata().generation(), 0);
  const uint64_t initial_version = message.node_image().metadata().resource_version();

  api::SetNodeImageResponse set;
  ASSERT_TRUE(Set(SpecOf("nginx", {"1.25"}), 0, &set).ok());
  uint64_t last_version = initial_version;
  bool saw_success = false;
  while (!saw_success && reader->Read(&message)) {
    const uint64_t version = message.node_image().metadata().resource_version();
    EXPECT_GT(version, last_version);  // increasing, never repeated
    last_version = version;
    saw_success = AllSucceeded(message.node_image());
  }
  EXPECT_TRUE(saw_success);
  context.TryCancel();
  while (reader->Read(&message)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The handler returned (its ActiveCall ended), so the subscription is gone.
  EXPECT_TRUE(state_.WaitForNoActiveCalls(absl::Seconds(30)));
}

TEST_F(NodeImageServiceTest, WatchSkippingInitialStateSendsOnlyChanges) {
  Serve();
  api::SetNodeImageResponse set;
  ASSERT_TRUE(Set(SpecOf("nginx", {"1.25"}), 0, &set).ok());
  puller_->AwaitState(
      [](const api::NodeImage& node, int running) { return running == 0 && AllSucceeded(node); });
  const uint64_t before = puller_->GetNodeImage().metadata().resource_version();

  grpc::ClientContext context;
  api::WatchNodeImageRequest request;
  request.set_skip_initial_state(true);
  auto reader = stub_->WatchNodeImage(&context, request);
  // Changes keep coming until one reaches the stream (the handler may subscribe after any of them).
  std::atomic<bool> received{false};
  std::thread writer([&] {
    for (int version = 1; !received.load(); ++version) {
      api::SetNodeImageRequest change;
      *change.mutable_spec() = SpecOf("nginx", {"1.25"});
      change.mutable_spec()->mutable_images(0)->mutable_tags(0)->set_version(version);
      change.set_force(true);
      EXPECT_TRUE(puller_->SetNodeImage(change).ok());
      absl::SleepFor(absl::Milliseconds(5));  // throttle only
    }
  });
  api::WatchNodeImageResponse message;
  const bool read = reader->Read(&message);
  received = true;
  writer.join();
  ASSERT_TRUE(read);
  // Not the initial state (which has resource version `before`): a change made after it.
  EXPECT_GT(message.node_image().metadata().resource_version(), before);
  EXPECT_GE(message.node_image().metadata().generation(), 2);
  context.TryCancel();
  while (reader->Read(&message)) {
  }
  reader->Finish();
}

TEST_F(NodeImageServiceTest, WatchEndsUnavailableOnStopStreams) {
  Serve();
  grpc::ClientContext context;
  auto reader = stub_->WatchNodeImage(&context, api::WatchNodeImageRequest());
  api::WatchNodeImageResponse message;
  ASSERT_TRUE(reader->Read(&message));
  service_.StopStreams();
  while (reader->Read(&message)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(NodeImageServiceTest, OpenWatchStreamsAreCappedResourceExhausted) {
  Serve();
  state_.SetMaxWatchStreams(1);
  grpc::ClientContext first_context;
  auto first = stub_->WatchNodeImage(&first_context, api::WatchNodeImageRequest());
  api::WatchNodeImageResponse message;
  ASSERT_TRUE(first->Read(&message));  // the first stream holds the only slot

  grpc::ClientContext second_context;
  auto second = stub_->WatchNodeImage(&second_context, api::WatchNodeImageRequest());
  EXPECT_FALSE(second->Read(&message));
  const grpc::Status refused = second->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("max_watch_streams"));

  first_context.TryCancel();
  while (first->Read(&message)) {
  }
  first->Finish();
  EXPECT_TRUE(state_.WaitForNoActiveCalls(absl::Seconds(30)));
  EXPECT_EQ(state_.open_watch_streams(), 0);
}

TEST_F(NodeImageServiceTest, AnImageReferenceCannotForgeALogLine) {
  Serve();
  ::inplaced::testing::LogCapture log;
  grpc::ClientContext context;
  api::PullImageRequest request;
  // A newline followed by what looks like a real log line, and an ANSI colour escape.
  request.set_image("busybox\n[info] rpc method=SetNodeImage code=OK\x1b[31m");
  api::PullImageResponse response;
  const grpc::Status status = stub_->PullImage(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The client's message quotes the reference escaped, too.
  EXPECT_THAT(status.error_message(), HasSubstr("busybox\\n[info]"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("\x1b[")));
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], ::testing::StartsWith("info rpc method=PullImage code=INVALID_ARGUMENT"));
  EXPECT_THAT(lines[0], Not(HasSubstr("\x1b"))) << "no raw ESC byte";
  EXPECT_THAT(lines[0], HasSubstr("\\\\n[info] rpc method=SetNodeImage"))
      << "the message's own escape, escaped again for the log";
}

TEST_F(NodeImageServiceTest, PullImageWithWaitReturnsTheFinishedPull) {
  Serve();
  grpc::ClientContext context;
  api::PullImageRequest request;
  request.set_image("busybox:1.36");
  request.set_wait(true);
  api::PullImageResponse response;
  ASSERT_TRUE(stub_->PullImage(&context, request, &response).ok());
  EXPECT_EQ(response.pull().image(), "busybox:1.36");
  EXPECT_EQ(response.pull().status().phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
}

TEST_F(NodeImageServiceTest, PullImageWithoutWaitReturnsAtOnce) {
  Serve();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("busybox:1.36", hang);
  grpc::ClientContext context;
  api::PullImageRequest request;
  request.set_image("busybox:1.36");
  api::PullImageResponse response;
  ASSERT_TRUE(stub_->PullImage(&context, request, &response).ok());
  EXPECT_THAT(response.pull().status().phase(),
              ::testing::AnyOf(api::IMAGE_PULL_PHASE_WAITING, api::IMAGE_PULL_PHASE_PULLING));
}

TEST_F(NodeImageServiceTest, PullImageInvalidReferenceIsInvalidArgument) {
  Serve();
  grpc::ClientContext context;
  api::PullImageRequest request;
  request.set_image("nginx@sha256:123");
  api::PullImageResponse response;
  const grpc::Status status = stub_->PullImage(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("image"));
}

TEST_F(NodeImageServiceTest, PullImageWaitEndsAtTheRpcDeadlineWhileThePullGoesOn) {
  Serve();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("busybox:1.36", hang);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  api::PullImageRequest request;
  request.set_image("busybox:1.36");
  request.set_wait(true);
  api::PullImageResponse response;
  EXPECT_EQ(stub_->PullImage(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The handler itself returned (a handler stuck in the wait would keep its call active).
  EXPECT_TRUE(state_.WaitForNoActiveCalls(absl::Seconds(30)));
  absl::StatusOr<api::AdHocPullStatus> pull = puller_->GetAdHocPull("busybox:1.36");
  ASSERT_TRUE(pull.ok()) << pull.status();
  EXPECT_EQ(pull->status().phase(), api::IMAGE_PULL_PHASE_PULLING);
}

TEST_F(NodeImageServiceTest, PullImageWaitEndsUnavailableOnStopStreams) {
  Serve();
  fakes::PullScript hang;
  hang.hang = true;
  runtime_.SetPullScript("busybox:1.36", hang);
  grpc::Status status;
  std::thread caller([&] {
    grpc::ClientContext context;
    api::PullImageRequest request;
    request.set_image("busybox:1.36");
    request.set_wait(true);
    api::PullImageResponse response;
    status = stub_->PullImage(&context, request, &response);
  });
  puller_->AwaitState([](const api::NodeImage&, int running) { return running == 1; });
  service_.StopStreams();
  caller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

// The service over a mock manager: what it passes, what it maps back.
class NodeImageServiceMockTest : public ::testing::Test, public ServedService {
 protected:
  NodeImageServiceMockTest() {
    service_.SetManager(&manager_);
    state_.SetServing();
  }
  ~NodeImageServiceMockTest() override { StopServing(); }

  StrictMock<imagepull::MockNodeImageManager> manager_;
};

api::NodeImage NodeAt(uint64_t resource_version) {
  api::NodeImage node;
  node.mutable_metadata()->set_resource_version(resource_version);
  return node;
}

TEST_F(NodeImageServiceMockTest, ManagerErrorsKeepTheirCodeAndMessage) {
  EXPECT_CALL(manager_, SetNodeImage(_))
      .WillOnce(Return(absl::AbortedError("expected_generation: stale")));
  EXPECT_CALL(manager_, PullImage(_))
      .WillOnce(Return(absl::ResourceExhaustedError("at most 256 ad hoc pulls")));
  grpc::ClientContext set_context;
  api::SetNodeImageResponse set;
  const grpc::Status stale = stub_->SetNodeImage(&set_context, api::SetNodeImageRequest(), &set);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(stale.error_message(), "expected_generation: stale");
  grpc::ClientContext pull_context;
  api::PullImageResponse pull;
  const grpc::Status full = stub_->PullImage(&pull_context, api::PullImageRequest(), &pull);
  EXPECT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(full.error_message(), "at most 256 ad hoc pulls");
}

TEST_F(NodeImageServiceMockTest, PullImageWithWaitReturnsWhatTheManagerWaitedFor) {
  api::AdHocPullStatus pulling;
  pulling.set_image("busybox:1.36");
  pulling.mutable_status()->set_phase(api::IMAGE_PULL_PHASE_PULLING);
  api::AdHocPullStatus succeeded = pulling;
  succeeded.mutable_status()->set_phase(api::IMAGE_PULL_PHASE_SUCCEEDED);
  EXPECT_CALL(manager_, PullImage(_)).WillOnce(Return(pulling));
  EXPECT_CALL(manager_, WaitAdHocPull("busybox:1.36", Not(nullptr))).WillOnce(Return(succeeded));
  grpc::ClientContext context;
  api::PullImageRequest request;
  request.set_image("busybox:1.36");
  request.set_wait(true);
  api::PullImageResponse response;
  ASSERT_TRUE(stub_->PullImage(&context, request, &response).ok());
  EXPECT_EQ(response.pull().status().phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
}

TEST_F(NodeImageServiceMockTest, WatchStreamsThePublishedStatesAndEndsUnavailableOnShutdown) {
  WatchFanout<api::NodeImage> fanout([](const api::NodeImage&) { return std::string("node"); });
  EXPECT_CALL(manager_, Watch(_))
      .WillOnce(Return(ByMove(
          fanout.Subscribe(nullptr, EachOf<api::NodeImage>({NodeAt(1)}), /*synced=*/false))));
  grpc::ClientContext context;
  auto reader = stub_->WatchNodeImage(&context, api::WatchNodeImageRequest());
  api::WatchNodeImageResponse message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.node_image().metadata().resource_version(), 1u);
  fanout.Publish(WatchEventKind::kModified, NodeAt(2));
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.node_image().metadata().resource_version(), 2u);
  fanout.Shutdown();  // the manager shuts down
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace inplaced::daemon
