#include "daemon/server/health_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>

#include "api/grpc/health/v1/health.grpc.pb.h"
#include "daemon/server/serving_state.h"
#include "gtest/gtest.h"

namespace inplaced::daemon {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

class HealthServiceTest : public ::testing::Test {
 protected:
  HealthServiceTest() : service_(state_, {"inplaced.v1.RecreateService"}, absl::Milliseconds(10)) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = Health::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~HealthServiceTest() override { server_->Shutdown(); }

  grpc::Status Check(const std::string& service, HealthCheckResponse* response) {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service(service);
    return stub_->Check(&context, request, response);
  }

  ServingState state_;
  HealthServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, CheckFollowsTheServingState) {
  struct Step {
    const char* description;
    void (ServingState::*change)();
    HealthCheckResponse::ServingStatus expected;
  };
  const Step steps[] = {
      {"starting", nullptr, HealthCheckResponse::NOT_SERVING},
      {"ready", &ServingState::SetServing, HealthCheckResponse::SERVING},
      {"stopping", &ServingState::SetStopping, HealthCheckResponse::NOT_SERVING},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.description);
    if (step.change != nullptr) (state_.*step.change)();
    for (const char* service : {"", "inplaced.v1.RecreateService"}) {
      HealthCheckResponse response;
      ASSERT_TRUE(Check(service, &response).ok()) << service;
      EXPECT_EQ(response.status(), step.expected) << service;
    }
  }
}

TEST_F(HealthServiceTest, CheckOfAnUnknownServiceIsNotFound) {
  state_.SetServing();
  HealthCheckResponse response;
  EXPECT_EQ(Check("no.such.Service", &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, WatchSendsEachChangeAndEndsWhenStopping) {
  grpc::ClientContext context;
  HealthCheckRequest request;
  auto reader = stub_->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  state_.SetServing();
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  state_.SetStopping();
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(HealthServiceTest, WatchOfAnUnknownServiceSaysServiceUnknown) {
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service("no.such.Service");
  auto reader = stub_->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, ClientCancelEndsTheWatchHandler) {
  {
    grpc::ClientContext context;
    auto reader = stub_->Watch(&context, HealthCheckRequest());
    HealthCheckResponse response;
    ASSERT_TRUE(reader->Read(&response));
    context.TryCancel();
    reader->Finish();
  }
  // Returns only once the handler noticed the cancellation (no deadline: it waits for handlers).
  server_->Shutdown();
  SUCCEED();
}

}  // namespace
}  // namespace inplaced::daemon
