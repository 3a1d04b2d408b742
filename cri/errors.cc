#include "cri/errors.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace inplaced::cri {
namespace {

// absl::StatusCode and grpc::StatusCode share google.rpc.Code numbering 0..16 (checked by
// errors_test); anything else is not a canonical code.
absl::StatusCode ToAbslCode(grpc::StatusCode code) {
  const int value = static_cast<int>(code);
  if (value < 0 || value > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(value);
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view call) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(ToAbslCode(status.error_code()),
                      absl::StrCat(call, ": ", status.error_message()));
}

absl::Status FromGrpcStatusIdempotent(const grpc::Status& status, absl::string_view call) {
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  return FromGrpcStatus(status, call);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int value = static_cast<int>(status.code());
  if (value < 0 || value > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    value = static_cast<int>(grpc::StatusCode::UNKNOWN);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(value), std::string(status.message()));
}

bool IsNotFound(const absl::Status& status) { return absl::IsNotFound(status); }

bool IsUnimplemented(const absl::Status& status) { return absl::IsUnimplemented(status); }

}  // namespace inplaced::cri
