#include "common/grpc_status.h"

#include <string>

namespace inplaced {
namespace {

constexpr int kLastCanonicalCode = 16;  // UNAUTHENTICATED in both enums.

int CanonicalOrUnknown(int value) {
  return value < 0 || value > kLastCanonicalCode ? 2 /* UNKNOWN */ : value;
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(CanonicalOrUnknown(static_cast<int>(status.error_code()))),
      status.error_message());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(
      static_cast<grpc::StatusCode>(CanonicalOrUnknown(static_cast<int>(status.code()))),
      std::string(status.message()));
}

}  // namespace inplaced
