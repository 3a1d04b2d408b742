#include "daemon/server/recreate_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "daemon/recreate/recreate_validation.h"
#include "daemon/recreate/watch_hub.h"
#include "daemon/server/serving_state.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/support/each_of.h"
#include "tests/support/log_capture.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/daemon/server/mock_recreate_manager.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::EachOf;
using ::testing::_;
using ::testing::Return;
using ::testing::StrictMock;

MATCHER_P(EqualsProto, expected, "") {
  return google::protobuf::util::MessageDifferencer::Equals(arg, expected);
}

api::RecreateRequest Stored(const std::string& name, uint64_t resource_version = 1) {
  api::RecreateRequest request;
  request.mutable_metadata()->set_namespace_("ns");
  request.mutable_metadata()->set_name(name);
  request.mutable_metadata()->set_resource_version(resource_version);
  request.mutable_spec()->set_pod_name("pod");
  request.mutable_status()->set_phase(api::RECREATE_PHASE_PENDING);
  return request;
}

// The service under test on an in-process gRPC server (no socket), with every dependency faked.
class RecreateServiceTest : public ::testing::Test {
 protected:
  RecreateServiceTest() : service_(manager_, state_) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = api::RecreateService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
    state_.SetServing();
  }
  ~RecreateServiceTest() override {
    service_.StopStreams();
    server_->Shutdown();
  }

  StrictMock<MockRecreateManager> manager_;
  ServingState state_;
  RecreateServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::RecreateService::Stub> stub_;
};

class RecreateServiceStartingTest : public ::testing::Test {
 protected:
  RecreateServiceStartingTest() : service_(manager_, state_) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = api::RecreateService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~RecreateServiceStartingTest() override { server_->Shutdown(); }

  StrictMock<MockRecreateManager> manager_;  // strict: any call reaching it fails the test
  ServingState state_;
  RecreateServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::RecreateService::Stub> stub_;
};

TEST_F(RecreateServiceStartingTest, CallsBeforeReadyAreUnavailableWithoutReachingTheManager) {
  {
    grpc::ClientContext context;
    api::CreateRecreateRequestResponse response;
    EXPECT_EQ(stub_->CreateRecreateRequest(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext context;
    api::GetRecreateRequestResponse response;
    EXPECT_EQ(stub_->GetRecreateRequest(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext context;
    api::ListRecreateRequestsResponse response;
    EXPECT_EQ(stub_->ListRecreateRequests(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext context;
    api::DeleteRecreateRequestResponse response;
    EXPECT_EQ(stub_->DeleteRecreateRequest(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext context;
    api::AcknowledgeUnreadyResponse response;
    EXPECT_EQ(stub_->AcknowledgeUnready(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext context;
    api::ReportReadinessResponse response;
    EXPECT_EQ(stub_->ReportReadiness(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    grpc::ClientContext context;
    auto reader = stub_->WatchRecreateRequests(&context, {});
    api::WatchRecreateRequestsResponse event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
}

TEST_F(RecreateServiceStartingTest, CallsAfterStoppingAreUnavailable) {
  state_.SetServing();
  state_.SetStopping();
  grpc::ClientContext context;
  api::GetRecreateRequestResponse response;
  EXPECT_EQ(stub_->GetRecreateRequest(&context, {}, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// Serving, but the engine is not set yet (the daemon sets it once it has loaded its state).
class RecreateServiceBeforeManagerTest : public ::testing::Test {
 protected:
  RecreateServiceBeforeManagerTest() : service_(state_) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = api::RecreateService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
    state_.SetServing();
  }
  ~RecreateServiceBeforeManagerTest() override {
    service_.StopStreams();
    server_->Shutdown();
  }

  // The status of each RPC, in proto order, called with empty requests.
  std::vector<grpc::Status> CallEveryRpc() {
    std::vector<grpc::Status> statuses;
    {
      grpc::ClientContext context;
      api::CreateRecreateRequestResponse response;
      statuses.push_back(stub_->CreateRecreateRequest(&context, {}, &response));
    }
    {
      grpc::ClientContext context;
      api::GetRecreateRequestResponse response;
      statuses.push_back(stub_->GetRecreateRequest(&context, {}, &response));
    }
    {
      grpc::ClientContext context;
      api::ListRecreateRequestsResponse response;
      statuses.push_back(stub_->ListRecreateRequests(&context, {}, &response));
    }
    {
      grpc::ClientContext context;
      api::DeleteRecreateRequestResponse response;
      statuses.push_back(stub_->DeleteRecreateRequest(&context, {}, &response));
    }
    {
      grpc::ClientContext context;
      auto reader = stub_->WatchRecreateRequests(&context, {});
      api::WatchRecreateRequestsResponse event;
      while (reader->Read(&event)) {
      }
      statuses.push_back(reader->Finish());
    }
    {
      grpc::ClientContext context;
      api::AcknowledgeUnreadyResponse response;
      statuses.push_back(stub_->AcknowledgeUnready(&context, {}, &response));
    }
    {
      grpc::ClientContext context;
      api::ReportReadinessResponse response;
      statuses.push_back(stub_->ReportReadiness(&context, {}, &response));
    }
    return statuses;
  }

  StrictMock<MockRecreateManager> manager_;  // strict: any call reaching it unexpectedly fails
  ServingState state_;
  RecreateServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::RecreateService::Stub> stub_;
};

TEST_F(RecreateServiceBeforeManagerTest, EveryCallIsUnavailableUntilTheManagerIsSet) {
  for (const grpc::Status& status : CallEveryRpc()) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(status.error_message(), "inplaced is starting: retry");
  }
}

TEST_F(RecreateServiceBeforeManagerTest, OnceSetEveryCallReachesTheManager) {
  service_.SetManager(&manager_);
  EXPECT_CALL(manager_, Create(_)).WillOnce(Return(api::CreateRecreateRequestResponse()));
  EXPECT_CALL(manager_, Get(_)).WillOnce(Return(absl::NotFoundError("x")));
  EXPECT_CALL(manager_, List(_)).WillOnce(Return(api::ListRecreateRequestsResponse()));
  EXPECT_CALL(manager_, Delete(_)).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(manager_, Watch(_)).WillOnce(Return(absl::InvalidArgumentError("namespace")));
  EXPECT_CALL(manager_, AcknowledgeUnready(_)).WillOnce(Return(api::RecreateRequest()));
  EXPECT_CALL(manager_, ReportReadiness(_)).WillOnce(Return(api::RecreateRequest()));
  std::vector<grpc::StatusCode> codes;
  for (const grpc::Status& status : CallEveryRpc()) codes.push_back(status.error_code());
  EXPECT_THAT(codes, ::testing::ElementsAre(grpc::StatusCode::OK, grpc::StatusCode::NOT_FOUND,
                                            grpc::StatusCode::OK, grpc::StatusCode::OK,
                                            grpc::StatusCode::INVALID_ARGUMENT,
                                            grpc::StatusCode::OK, grpc::StatusCode::OK));
}

TEST_F(RecreateServiceTest, CreatePassesTheRequestAndReturnsTheManagersResponse) {
  api::CreateRecreateRequestRequest request;
  request.set_namespace_("ns");
  request.set_name("r1");
  request.mutable_spec()->set_pod_name("pod");
  request.mutable_spec()->add_containers()->set_name("app");
  api::CreateRecreateRequestResponse expected;
  *expected.mutable_recreate_request() = Stored("r1");
  expected.set_created(true);
  EXPECT_CALL(manager_, Create(EqualsProto(request))).WillOnce(Return(expected));

  grpc::ClientContext context;
  api::CreateRecreateRequestResponse response;
  ASSERT_TRUE(stub_->CreateRecreateRequest(&context, request, &response).ok());
  EXPECT_THAT(response, EqualsProto(expected));
}

TEST_F(RecreateServiceTest, ManagerErrorsKeepTheirCodeAndMessage) {
  struct Case {
    absl::Status status;
    grpc::StatusCode code;
  };
  const std::vector<Case> cases = {
      {absl::InvalidArgumentError("spec.containers[1].name: duplicate container \"app\""),
       grpc::StatusCode::INVALID_ARGUMENT},
      {absl::AlreadyExistsError("recreate request ns/r1 exists with another spec"),
       grpc::StatusCode::ALREADY_EXISTS},
      {absl::ResourceExhaustedError("1000 open recreate requests, the configured maximum"),
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::FailedPreconditionError("recreate request ns/r1 has completed"),
       grpc::StatusCode::FAILED_PRECONDITION},
      {absl::NotFoundError("recreate request ns/r1 not found"), grpc::StatusCode::NOT_FOUND},
      {absl::UnavailableError("shutting down"), grpc::StatusCode::UNAVAILABLE},
      {absl::InternalError("store: disk I/O error"), grpc::StatusCode::INTERNAL},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    EXPECT_CALL(manager_, Create(_)).WillOnce(Return(c.status));
    grpc::ClientContext context;
    api::CreateRecreateRequestResponse response;
    const grpc::Status status = stub_->CreateRecreateRequest(&context, {}, &response);
    EXPECT_EQ(status.error_code(), c.code);
    EXPECT_EQ(status.error_message(), std::string(c.status.message()));
  }
}

TEST_F(RecreateServiceTest, APodNameCannotForgeALogLine) {
  // The engine validates (and escapes); a manager error that carries raw caller text is escaped
  // for the log by the service all the same.
  const std::string pod = "web-0\n[info] rpc method=DeleteRecreateRequest code=OK\x1b[2J";
  EXPECT_CALL(manager_, Create(_))
      .WillOnce([](const api::CreateRecreateRequestRequest& request)
                    -> absl::StatusOr<api::CreateRecreateRequestResponse> {
        EXPECT_THAT(ValidateCreateRecreateRequest(request, ValidationLimits{}),
                    ::inplaced::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                                  ::testing::HasSubstr("web-0\\n[info]")));
        return absl::InvalidArgumentError(
            absl::StrCat("spec.pod_name: raw ", request.spec().pod_name()));
      });
  ::inplaced::testing::LogCapture log;
  api::CreateRecreateRequestRequest request;
  request.set_namespace_("ns");
  request.set_name("r1");
  request.mutable_spec()->set_pod_name(pod);
  request.mutable_spec()->add_containers()->set_name("app");
  grpc::ClientContext context;
  api::CreateRecreateRequestResponse response;
  EXPECT_EQ(stub_->CreateRecreateRequest(&context, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0],
              ::testing::StartsWith("info rpc method=CreateRecreateRequest code=INVALID_ARGUMENT"));
  EXPECT_THAT(lines[0], ::testing::HasSubstr(
                            "raw web-0\\n[info] rpc method=DeleteRecreateRequest code=OK\\x1b[2J"));
}

TEST_F(RecreateServiceTest, GetReturnsTheRequest) {
  api::GetRecreateRequestRequest request;
  request.set_namespace_("ns");
  request.set_name("r1");
  EXPECT_CALL(manager_, Get(EqualsProto(request))).WillOnce(Return(Stored("r1", 7)));
  grpc::ClientContext context;
  api::GetRecreateRequestResponse response;
  ASSERT_TRUE(stub_->GetRecreateRequest(&context, request, &response).ok());
  EXPECT_THAT(response.recreate_request(), EqualsProto(Stored("r1", 7)));
}

TEST_F(RecreateServiceTest, ListReturnsThePage) {
  api::ListRecreateRequestsRequest request;
  request.set_pod_name("pod");
  request.set_page_size(2);
  api::ListRecreateRequestsResponse page;
  *page.add_recreate_requests() = Stored("a");
  *page.add_recreate_requests() = Stored("b");
  page.set_next_page_token("next");
  EXPECT_CALL(manager_, List(EqualsProto(request))).WillOnce(Return(page));
  grpc::ClientContext context;
  api::ListRecreateRequestsResponse response;
  ASSERT_TRUE(stub_->ListRecreateRequests(&context, request, &response).ok());
  EXPECT_THAT(response, EqualsProto(page));
}

TEST_F(RecreateServiceTest, DeleteMapsNotFound) {
  api::DeleteRecreateRequestRequest request;
  request.set_namespace_("ns");
  request.set_name("gone");
  EXPECT_CALL(manager_, Delete(EqualsProto(request)))
      .WillOnce(Return(absl::OkStatus()))
      .WillOnce(Return(absl::NotFoundError("recreate request ns/gone not found")));
  api::DeleteRecreateRequestResponse response;
  grpc::ClientContext first;
  EXPECT_TRUE(stub_->DeleteRecreateRequest(&first, request, &response).ok());
  grpc::ClientContext second;
  EXPECT_EQ(stub_->DeleteRecreateRequest(&second, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(RecreateServiceTest, AcknowledgeUnreadyAndReportReadinessReturnTheRequestAfterTheCall) {
  api::AcknowledgeUnreadyRequest ack;
  ack.set_namespace_("ns");
  ack.set_name("r1");
  ack.mutable_unready_at()->set_seconds(1700000000);
  api::RecreateRequest acknowledged = Stored("r1", 2);
  *acknowledged.mutable_status()->mutable_unready_acknowledged_at() = ack.unready_at();
  EXPECT_CALL(manager_, AcknowledgeUnready(EqualsProto(ack))).WillOnce(Return(acknowledged));

  api::ReportReadinessRequest report;
  report.set_namespace_("ns");
  report.set_name("r1");
  api::ContainerReadiness* readiness = report.add_containers();
  readiness->set_name("app");
  readiness->set_container_id("abc");
  readiness->set_ready(true);
  EXPECT_CALL(manager_, ReportReadiness(EqualsProto(report))).WillOnce(Return(Stored("r1", 3)));

  grpc::ClientContext ack_context;
  api::AcknowledgeUnreadyResponse ack_response;
  ASSERT_TRUE(stub_->AcknowledgeUnready(&ack_context, ack, &ack_response).ok());
  EXPECT_THAT(ack_response.recreate_request(), EqualsProto(acknowledged));

  grpc::ClientContext report_context;
  api::ReportReadinessResponse report_response;
  ASSERT_TRUE(stub_->ReportReadiness(&report_context, report, &report_response).ok());
  EXPECT_THAT(report_response.recreate_request(), EqualsProto(Stored("r1", 3)));
}

TEST_F(RecreateServiceTest, WatchErrorFromTheManagerEndsTheStream) {
  EXPECT_CALL(manager_, Watch(_))
      .WillOnce(Return(absl::InvalidArgumentError("namespace: not a DNS-1123 label")));
  grpc::ClientContext context;
  auto reader = stub_->WatchRecreateRequests(&context, {});
  api::WatchRecreateRequestsResponse event;
  EXPECT_FALSE(reader->Read(&event));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "namespace: not a DNS-1123 label");
}

// A WatchHub stands in for the manager's watches: it is the real fan-out the engine uses.
class RecreateServiceWatchTest : public RecreateServiceTest {
 protected:
  void ExpectWatchFromHub(const std::vector<api::RecreateRequest>& initial) {
    EXPECT_CALL(manager_, Watch(_))
        .WillOnce([this, initial](const api::WatchRecreateRequestsRequest& request)
                      -> absl::StatusOr<std::unique_ptr<RecreateWatch>> {
          return hub_.Subscribe(request, EachOf(initial));
        });
  }

  WatchHub hub_;
};

TEST_F(RecreateServiceWatchTest, StreamsInitialStateAndChanges) {
  ExpectWatchFromHub({Stored("a", 1)});
  grpc::ClientContext context;
  auto reader = stub_->WatchRecreateRequests(&context, {});
  api::WatchRecreateRequestsResponse event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_ADDED);
  EXPECT_THAT(event.recreate_request(), EqualsProto(Stored("a", 1)));
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_SYNCED);
  hub_.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Stored("a", 2));
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_MODIFIED);
  EXPECT_EQ(event.recreate_request().metadata().resource_version(), 2u);
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(RecreateServiceWatchTest, ClientCancelFreesTheHandlerAndEndsTheWatch) {
  ExpectWatchFromHub({});
  {
    grpc::ClientContext context;
    auto reader = stub_->WatchRecreateRequests(&context, {});
    api::WatchRecreateRequestsResponse event;
    ASSERT_TRUE(reader->Read(&event));  // SYNCED: the stream now waits for the next event
    EXPECT_EQ(hub_.ActiveWatches(), 1);
    context.TryCancel();
    reader->Finish();
  }
  // Shutdown without a deadline waits for every call to finish: it returns only if the stream
  // noticed the cancelled call and finished.
  server_->Shutdown();
  EXPECT_EQ(hub_.ActiveWatches(), 0);
}

TEST_F(RecreateServiceWatchTest, ManagerShutdownEndsTheStreamUnavailable) {
  ExpectWatchFromHub({});
  grpc::ClientContext context;
  auto reader = stub_->WatchRecreateRequests(&context, {});
  api::WatchRecreateRequestsResponse event;
  ASSERT_TRUE(reader->Read(&event));
  hub_.Shutdown();
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(RecreateServiceWatchTest, StopStreamsEndsOpenStreamsUnavailable) {
  ExpectWatchFromHub({});
  grpc::ClientContext context;
  auto reader = stub_->WatchRecreateRequests(&context, {});
  api::WatchRecreateRequestsResponse event;
  ASSERT_TRUE(reader->Read(&event));
  service_.StopStreams();
  EXPECT_FALSE(reader->Read(&event));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("shutting down"));
}

TEST_F(RecreateServiceWatchTest, OpenStreamsAreCappedResourceExhausted) {
  state_.SetMaxWatchStreams(1);
  EXPECT_CALL(manager_, Watch(_))
      .Times(2)
      .WillRepeatedly([this](const api::WatchRecreateRequestsRequest& request)
                          -> absl::StatusOr<std::unique_ptr<RecreateWatch>> {
        return hub_.Subscribe(request, nullptr);
      });
  {
    grpc::ClientContext first_context;
    auto first = stub_->WatchRecreateRequests(&first_context, {});
    api::WatchRecreateRequestsResponse event;
    ASSERT_TRUE(first->Read(&event));  // SYNCED: the first stream holds the only slot
    EXPECT_EQ(state_.open_watch_streams(), 1);

    grpc::ClientContext second_context;
    auto second = stub_->WatchRecreateRequests(&second_context, {});
    EXPECT_FALSE(second->Read(&event));
    const grpc::Status refused = second->Finish();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(refused.error_message(),
              "too many open watch streams: 1 of at most 1 (setting max_watch_streams); close one "
              "or poll with Get/List instead");

    first_context.TryCancel();
    while (first->Read(&event)) {
    }
    first->Finish();
  }
  // The cancelled stream finishes and frees its slot (when gRPC is done with it: OnDone).
  while (state_.open_watch_streams() != 0) absl::SleepFor(absl::Milliseconds(5));
  grpc::ClientContext third_context;
  auto third = stub_->WatchRecreateRequests(&third_context, {});
  api::WatchRecreateRequestsResponse event;
  EXPECT_TRUE(third->Read(&event));
  third_context.TryCancel();
  while (third->Read(&event)) {
  }
  EXPECT_EQ(third->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace inplaced::daemon
