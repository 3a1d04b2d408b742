#include "daemon/server/control_server.h"

#include <sys/stat.h>

#include <memory>
#include <string>

#include "api/grpc/health/v1/health.grpc.pb.h"
#include "daemon/server/health_service.h"
#include "daemon/server/serving_state.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace inplaced::daemon {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::inplaced::testing::StatusIs;
using ::inplaced::testing::TempDir;

class ControlServerTest : public ::testing::Test {
 protected:
  ControlServerTest() : health_(state_, {}) { state_.SetServing(); }

  ServingState state_;
  HealthServiceImpl health_;
  TempDir dir_;
};

TEST_F(ControlServerTest, ServesOnTheSocketWithMode0660AndRemovesItOnShutdown) {
  const std::string path = dir_.Join("run/inplaced.sock");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ControlServer> server,
                       ControlServer::Start(path, {&health_}));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto stub =
      Health::NewStub(grpc::CreateChannel("unix:" + path, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  HealthCheckResponse response;
  ASSERT_TRUE(stub->Check(&context, HealthCheckRequest(), &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  server->Shutdown(absl::Seconds(1));
  EXPECT_NE(::stat(path.c_str(), &st), 0);
}

TEST_F(ControlServerTest, ASecondServerOnALiveSocketFails) {
  const std::string path = dir_.Join("inplaced.sock");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ControlServer> first,
                       ControlServer::Start(path, {&health_}));
  EXPECT_THAT(ControlServer::Start(path, {&health_}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // The first one still owns and serves its socket.
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
}

TEST_F(ControlServerTest, AnUnusableSocketPathIsAnError) {
  EXPECT_THAT(ControlServer::Start("relative.sock", {&health_}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace inplaced::daemon
