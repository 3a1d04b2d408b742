// NodeService/GetNodeInfo over the NodeInfoReporter on the fake runtime (in-process gRPC server),
// and the go_package option every inplaced proto carries for Go controllers.

#include "daemon/server/node_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>

#include "api/inplaced/internal/recreate_record.pb.h"
#include "api/inplaced/v1/node.grpc.pb.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "common/build_info.h"
#include "daemon/server/node_info.h"
#include "daemon/server/serving_state.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kEndpoint[] = "unix:///run/containerd/containerd.sock";

class NodeServiceTest : public ::testing::Test {
 protected:
  NodeServiceTest() : runtime_(clock_, fakes::RuntimeProfile::Containerd17()), service_(state_) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = api::NodeService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~NodeServiceTest() override { server_->Shutdown(); }

  // A reporter as the daemon makes it: the runtime's Version at connect time, the engine's state.
  void Serve(NodeInfoOptions options = {}) {
    if (options.node_name.empty()) options.node_name = "node-a";
    options.runtime_endpoint = kEndpoint;
    options.runtime_version = *runtime_.Version({});
    reporter_ = std::make_unique<NodeInfoReporter>(
        runtime_, [this] { return event_stream_.load(); }, std::move(options));
    service_.SetReporter(reporter_.get());
    state_.SetServing();
  }

  grpc::Status Call(api::GetNodeInfoResponse* response) {
    grpc::ClientContext context;
    return stub_->GetNodeInfo(&context, api::GetNodeInfoRequest(), response);
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_;
  std::atomic<EventStreamState> event_stream_{EventStreamState::kSubscribed};
  ServingState state_;
  NodeServiceImpl service_;
  std::unique_ptr<NodeInfoReporter> reporter_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::NodeService::Stub> stub_;
};

TEST_F(NodeServiceTest, UnavailableWhileStartingAndOnceStopping) {
  api::GetNodeInfoResponse response;
  grpc::Status status = Call(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // Serving but no reporter yet (the runtime is not connected).
  state_.SetServing();
  EXPECT_EQ(Call(&response).error_code(), grpc::StatusCode::UNAVAILABLE);
  Serve();
  EXPECT_TRUE(Call(&response).ok());
  state_.SetStopping();
  status = Call(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(NodeServiceTest, ReportsTheNodeTheDaemonAndTheRuntime) {
  Serve();
  api::GetNodeInfoResponse response;
  ASSERT_TRUE(Call(&response).ok());
  const api::NodeInfo& info = response.node_info();
  EXPECT_EQ(info.node_name(), "node-a");
  EXPECT_EQ(info.daemon_version(), BuildVersion());
  EXPECT_THAT(info.daemon_version(), StartsWith("0."));
  EXPECT_EQ(info.daemon_build(), BuildGitDescribe());
  EXPECT_EQ(info.api_version(), "v1");
  EXPECT_EQ(info.runtime_name(), "containerd");
  EXPECT_EQ(info.runtime_version(), "v1.7.24");
  EXPECT_EQ(info.runtime_api_version(), "v1");
  EXPECT_EQ(info.runtime_endpoint(), kEndpoint);
  EXPECT_TRUE(info.runtime_reachable());
  EXPECT_EQ(info.capabilities().event_stream(), api::EVENT_STREAM_SUBSCRIBED);
  EXPECT_FALSE(info.capabilities().image_pinning());
  EXPECT_FALSE(info.capabilities().byte_progress());
}

TEST_F(NodeServiceTest, AsksTheRuntimeEveryTimeAndKeepsItsLastAnswerWhenItDoesNotAnswer) {
  Serve();
  const int before = runtime_.CallCount("Version");
  api::GetNodeInfoResponse response;
  ASSERT_TRUE(Call(&response).ok());
  EXPECT_EQ(runtime_.CallCount("Version"), before + 1);

  runtime_.InjectError("Version", absl::UnavailableError("Version: connection refused"));
  ASSERT_TRUE(Call(&response).ok());
  EXPECT_FALSE(response.node_info().runtime_reachable());
  EXPECT_EQ(response.node_info().runtime_name(), "containerd");
  EXPECT_EQ(response.node_info().runtime_version(), "v1.7.24");

  ASSERT_TRUE(Call(&response).ok());
  EXPECT_TRUE(response.node_info().runtime_reachable());
}

TEST_F(NodeServiceTest, ByteProgressComesFromTheOptions) {
  NodeInfoOptions options;
  options.byte_progress = true;
  Serve(options);
  api::GetNodeInfoResponse response;
  ASSERT_TRUE(Call(&response).ok());
  EXPECT_TRUE(response.node_info().capabilities().byte_progress());
}

TEST_F(NodeServiceTest, ReportsTheEngineEventStreamStateAsItIsNow) {
  Serve();
  const struct {
    EventStreamState state;
    api::EventStream want;
  } cases[] = {
      {EventStreamState::kDisabled, api::EVENT_STREAM_DISABLED},
      {EventStreamState::kSubscribed, api::EVENT_STREAM_SUBSCRIBED},
      {EventStreamState::kStreaming, api::EVENT_STREAM_STREAMING},
      {EventStreamState::kUnsupported, api::EVENT_STREAM_UNSUPPORTED},
      {EventStreamState::kReconnecting, api::EVENT_STREAM_RECONNECTING},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(api::EventStream_Name(c.want));
    event_stream_ = c.state;
    api::GetNodeInfoResponse response;
    ASSERT_TRUE(Call(&response).ok());
    EXPECT_EQ(response.node_info().capabilities().event_stream(), c.want);
    EXPECT_EQ(ToProto(c.state), c.want);
  }
}

TEST(ApiProtoOptionsTest, EveryInplacedProtoNamesItsGoPackage) {
  // Linked in through the generated code; a Go controller generates its client from these files.
  const struct {
    const char* file;
    const char* go_package;
  } cases[] = {
      {"inplaced/v1/recreate.proto", "github.com/inplaced/inplaced/api/inplaced/v1;inplacedv1"},
      {"inplaced/v1/nodeimage.proto", "github.com/inplaced/inplaced/api/inplaced/v1;inplacedv1"},
      {"inplaced/v1/node.proto", "github.com/inplaced/inplaced/api/inplaced/v1;inplacedv1"},
      {"inplaced/internal/recreate_record.proto",
       "github.com/inplaced/inplaced/api/inplaced/internal;inplacedinternal"},
  };
  // Referencing the generated types makes sure their files are in the pool.
  api::NodeInfo node_info;
  api::RecreateRequest recreate;
  api::NodeImage node_image;
  ::inplaced::internal::RecreateRecord record;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const google::protobuf::FileDescriptor* file =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName(c.file);
    ASSERT_NE(file, nullptr);
    EXPECT_EQ(file->options().go_package(), c.go_package);
  }
}

}  // namespace
}  // namespace inplaced::daemon
