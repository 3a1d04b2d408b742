#pragma once

// grpc.health.v1.Health (api/grpc/health/v1/health.proto), implemented here rather than with gRPC
// C++'s built-in health service so that its descriptor is linked in and server reflection can
// describe it. Status: SERVING while the daemon serves (ServingState::kServing), NOT_SERVING while
// it starts or stops.

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "api/grpc/health/v1/health.grpc.pb.h"
#include "daemon/server/serving_state.h"

namespace inplaced::daemon {

// Thread-safe. `state` must outlive the service.
class HealthServiceImpl final : public ::grpc::health::v1::Health::Service {
 public:
  // Answers for "" (the whole server) and for each of `services` (fully qualified service names).
  // `poll_period`: how often a Watch stream checks whether its client went away.
  HealthServiceImpl(ServingState& state, std::vector<std::string> services,
                    absl::Duration poll_period = absl::Milliseconds(100));

  // NOT_FOUND for an unknown service name.
  grpc::Status Check(grpc::ServerContext* context,
                     const ::grpc::health::v1::HealthCheckRequest* request,
                     ::grpc::health::v1::HealthCheckResponse* response) override;

  // Sends the current status (SERVICE_UNKNOWN for an unknown name), then each change. Ends with
  // CANCELLED when the client goes away, and with UNAVAILABLE after sending NOT_SERVING once the
  // daemon stops.
  grpc::Status Watch(grpc::ServerContext* context,
                     const ::grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<::grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  bool Known(const std::string& service) const;

  ServingState& state_;
  const std::vector<std::string> services_;
  const absl::Duration poll_period_;
};

}  // namespace inplaced::daemon
