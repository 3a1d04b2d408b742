#include "tests/e2e/e2e_runtime.h"

#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "tests/fakes/grpc_pod_lifecycle.h"

namespace inplaced::e2e {

absl::StatusOr<E2eConnection> ConnectToE2eRuntime(const E2eEnv& env) {
  cri::ConnectOptions options;
  options.endpoint = env.containerd_endpoint;
  options.connect_timeout = absl::Seconds(30);
  ASSIGN_OR_RETURN(cri::Connection connected, cri::Connect(options));
  E2eConnection connection{std::move(connected), /*lifecycle=*/nullptr};
  connection.lifecycle = std::make_unique<fakes::GrpcPodLifecycle>(connection.endpoint);
  const auto& version = connection.version;
  std::cout << RuntimeBanner(version.runtime_name(), version.runtime_version(),
                             version.runtime_api_version(), connection.endpoint)
            << std::endl;
  ::testing::Test::RecordProperty(
      "runtime", absl::StrCat(version.runtime_name(), " ", version.runtime_version()));
  return connection;
}

}  // namespace inplaced::e2e
