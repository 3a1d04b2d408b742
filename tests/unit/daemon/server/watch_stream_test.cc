// Watch streams on the callback API (WatchStreamReactor) over a real unix socket: no thread per
// open stream, slots freed when clients go away, StopStreams() ending every stream.

#include <dirent.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "daemon/recreate/watch_hub.h"
#include "daemon/server/control_server.h"
#include "daemon/server/recreate_service.h"
#include "daemon/server/serving_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/daemon/server/mock_recreate_manager.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::Eventually;
using ::inplaced::testing::TempDir;
using ::testing::_;
using ::testing::NiceMock;

// Threads of this process (server and client alike).
int ThreadCount() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

api::RecreateRequest Stored(const std::string& name, uint64_t resource_version) {
  api::RecreateRequest request;
  request.mutable_metadata()->set_namespace_("ns");
  request.mutable_metadata()->set_name(name);
  request.mutable_metadata()->set_resource_version(resource_version);
  request.mutable_spec()->set_pod_name("pod");
  return request;
}

// One open WatchRecreateRequests stream, as a client sees it.
struct ClientStream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<api::WatchRecreateRequestsResponse>> reader;
};

class WatchStreamTest : public ::testing::Test {
 protected:
  WatchStreamTest() : service_(manager_, state_) {
    ON_CALL(manager_, Watch(_))
        .WillByDefault([this](const api::WatchRecreateRequestsRequest& request)
                           -> absl::StatusOr<std::unique_ptr<RecreateWatch>> {
          return hub_.Subscribe(request, nullptr);
        });
    state_.SetServing();
    absl::StatusOr<std::unique_ptr<ControlServer>> server =
        ControlServer::Start(dir_.Join("inplaced.sock"), {&service_});
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
    stub_ = api::RecreateService::NewStub(grpc::CreateChannel("unix:" + dir_.Join("inplaced.sock"),
                                                              grpc::InsecureChannelCredentials()));
  }
  ~WatchStreamTest() override {
    service_.StopStreams();
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
  }

  // Opens a stream and reads its SYNCED: the server has it open from then on.
  std::unique_ptr<ClientStream> Open() {
    auto stream = std::make_unique<ClientStream>();
    stream->reader = stub_->WatchRecreateRequests(&stream->context, {});
    api::WatchRecreateRequestsResponse event;
    EXPECT_TRUE(stream->reader->Read(&event));
    EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_SYNCED);
    return stream;
  }

  // Reads to the end of the stream and returns its status.
  static grpc::Status End(ClientStream& stream) {
    api::WatchRecreateRequestsResponse event;
    while (stream.reader->Read(&event)) {
    }
    return stream.reader->Finish();
  }

  TempDir dir_;
  NiceMock<MockRecreateManager> manager_;
  WatchHub hub_;
  ServingState state_;
  RecreateServiceImpl service_;
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<api::RecreateService::Stub> stub_;
};

TEST_F(WatchStreamTest, OpenStreamsDoNotHoldAThreadEach) {
  ASSERT_NE(server_, nullptr);
  std::vector<std::unique_ptr<ClientStream>> streams;
  streams.push_back(Open());  // gRPC's own threads (pollers, executor) are up from here
  const int before = ThreadCount();
  constexpr int kStreams = 200;
  for (int i = 1; i < kStreams; ++i) streams.push_back(Open());
  EXPECT_EQ(state_.open_watch_streams(), kStreams);
  EXPECT_EQ(hub_.ActiveWatches(), kStreams);
  const int after = ThreadCount();
  EXPECT_LT(after - before, 50) << before << " threads with one stream open, " << after << " with "
                                << kStreams;

  // Every stream still delivers.
  hub_.Publish(api::WATCH_EVENT_TYPE_ADDED, Stored("a", 1));
  for (auto& stream : streams) {
    api::WatchRecreateRequestsResponse event;
    ASSERT_TRUE(stream->reader->Read(&event));
    EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_ADDED);
    EXPECT_EQ(event.recreate_request().metadata().name(), "a");
  }

  service_.StopStreams();
  for (auto& stream : streams) {
    const grpc::Status status = End(*stream);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  EXPECT_TRUE(Eventually([&] { return state_.open_watch_streams() == 0; }, absl::Seconds(10)));
  EXPECT_EQ(hub_.ActiveWatches(), 0);
}

TEST_F(WatchStreamTest, ClientCancelFinishesTheStreamAndFreesItsSlot) {
  ASSERT_NE(server_, nullptr);
  std::vector<std::unique_ptr<ClientStream>> streams;
  for (int i = 0; i < 20; ++i) streams.push_back(Open());
  EXPECT_EQ(state_.open_watch_streams(), 20);
  for (auto& stream : streams) stream->context.TryCancel();
  for (auto& stream : streams) EXPECT_EQ(End(*stream).error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually(
      [&] {
        return state_.open_watch_streams() == 0 && hub_.ActiveWatches() == 0 &&
               state_.active_calls() == 0;
      },
      absl::Seconds(10)))
      << state_.open_watch_streams() << " slots, " << hub_.ActiveWatches() << " watches, "
      << state_.active_calls() << " calls";
}

TEST_F(WatchStreamTest, StopStreamsEndsLaterStreamsAtOnce) {
  ASSERT_NE(server_, nullptr);
  service_.StopStreams();
  grpc::ClientContext context;
  auto reader = stub_->WatchRecreateRequests(&context, {});
  api::WatchRecreateRequestsResponse event;
  EXPECT_FALSE(reader->Read(&event));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("shutting down"));
  EXPECT_TRUE(Eventually([&] { return state_.open_watch_streams() == 0; }, absl::Seconds(10)));
}

TEST_F(WatchStreamTest, ManyChangesArriveInOrderEndingWithTheNewest) {
  ASSERT_NE(server_, nullptr);
  auto stream = Open();
  constexpr int kVersions = 500;
  for (int version = 1; version <= kVersions; ++version) {
    hub_.Publish(version == 1 ? api::WATCH_EVENT_TYPE_ADDED : api::WATCH_EVENT_TYPE_MODIFIED,
                 Stored("a", version));
  }
  hub_.Publish(api::WATCH_EVENT_TYPE_DELETED, Stored("a", kVersions + 1));
  uint64_t last = 0;
  api::WatchRecreateRequestsResponse event;
  while (stream->reader->Read(&event)) {
    const uint64_t version = event.recreate_request().metadata().resource_version();
    EXPECT_GT(version, last);  // coalesced perhaps, never older after newer
    last = version;
    if (event.type() == api::WATCH_EVENT_TYPE_DELETED) break;
  }
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_DELETED);
  EXPECT_EQ(last, static_cast<uint64_t>(kVersions + 1));
  hub_.Shutdown();  // the engine stops: UNAVAILABLE from the watch itself
  EXPECT_EQ(End(*stream).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace inplaced::daemon
