#include "cri/connect.h"

#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/cri/test_cri_server.h"

namespace inplaced::cri {
namespace {

using ::inplaced::cri::testing::TestCriServer;
using ::inplaced::cri::testing::TestServerOptions;
using ::inplaced::testing::StatusIs;
using ::inplaced::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ConnectTest, ConnectsAndReportsTheVersion) {
  TempDir dir;
  TestCriServer server(dir.Join("cri.sock"), TestServerOptions());
  ASSERT_TRUE(server.ok());
  ConnectOptions options;
  options.endpoint = dir.Join("cri.sock");  // a bare path means unix
  ASSERT_OK_AND_ASSIGN(Connection connection, Connect(options));
  EXPECT_EQ(connection.endpoint, "unix://" + dir.Join("cri.sock"));
  EXPECT_EQ(connection.version.runtime_name(), "containerd");
  EXPECT_EQ(connection.version.runtime_version(), "1.6.20~ds1");
  EXPECT_EQ(connection.version.runtime_api_version(), "v1");
  ASSERT_NE(connection.runtime, nullptr);
  EXPECT_OK(connection.runtime->ListContainers(criv1::ListContainersRequest()));
}

TEST(ConnectTest, RefusesARuntimeThatIsNotCriV1) {
  TempDir dir;
  TestServerOptions server_options;
  server_options.api_version = "v1alpha2";
  TestCriServer server(dir.Join("cri.sock"), server_options);
  ASSERT_TRUE(server.ok());
  ConnectOptions options;
  options.endpoint = "unix://" + dir.Join("cri.sock");
  EXPECT_THAT(Connect(options), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         AllOf(HasSubstr("\"v1alpha2\""), HasSubstr("\"v1\""))));
}

TEST(ConnectTest, ExplainsUnimplementedAsADisabledCriPlugin) {
  TempDir dir;
  TestServerOptions server_options;
  server_options.serve_runtime_service = false;
  TestCriServer server(dir.Join("cri.sock"), server_options);
  ASSERT_TRUE(server.ok());
  ConnectOptions options;
  options.endpoint = "unix://" + dir.Join("cri.sock");
  EXPECT_THAT(Connect(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("CRI plugin is disabled"), HasSubstr(options.endpoint))));
}

TEST(ConnectTest, WaitsForASocketThatAppearsLate) {
  TempDir dir;
  ConnectOptions options;
  options.endpoint = "unix://" + dir.Join("cri.sock");
  options.connect_timeout = absl::Seconds(60);  // a bound for a broken build, not a timing
  absl::StatusOr<Connection> result;
  std::thread connecting([&] { result = Connect(options); });
  // Start the runtime only after Connect began; nothing is listening at first.
  TestCriServer server(dir.Join("cri.sock"), TestServerOptions());
  ASSERT_TRUE(server.ok());
  connecting.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->version.runtime_api_version(), "v1");
}

TEST(ConnectTest, FailsAfterTheConnectTimeoutNamingTheEndpoint) {
  TempDir dir;
  ConnectOptions options;
  options.endpoint = "unix://" + dir.Join("absent.sock");
  options.connect_timeout = absl::Milliseconds(300);
  EXPECT_THAT(Connect(options),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(options.endpoint)));
}

TEST(ConnectTest, DiscoversTheRuntimeSocket) {
  TempDir dir;
  TestCriServer server(dir.Join("crio.sock"), TestServerOptions());
  ASSERT_TRUE(server.ok());
  ConnectOptions options;
  options.discovery_root = dir.path();
  ASSERT_OK_AND_ASSIGN(Connection connection, Connect(options));
  EXPECT_EQ(connection.endpoint, "unix://" + dir.Join("crio.sock"));
}

TEST(ConnectTest, DiscoveryWithoutASocketIsNotFound) {
  TempDir dir;
  ConnectOptions options;
  options.discovery_root = dir.path();
  EXPECT_THAT(Connect(options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir.Join("containerd.sock"))));
}

TEST(ConnectTest, RejectsTcpEndpoints) {
  ConnectOptions options;
  options.endpoint = "tcp://127.0.0.1:10000";
  EXPECT_THAT(Connect(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("only unix socket endpoints are supported")));
}

}  // namespace
}  // namespace inplaced::cri
