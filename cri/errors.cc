#include "cri/errors.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace inplaced::cri {

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view call) {
  const absl::Status converted = ::inplaced::FromGrpcStatus(status);
  if (converted.ok()) return converted;
  return absl::Status(converted.code(), absl::StrCat(call, ": ", converted.message()));
}

absl::Status FromGrpcStatusIdempotent(const grpc::Status& status, absl::string_view call) {
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  return FromGrpcStatus(status, call);
}

bool IsNotFound(const absl::Status& status) { return absl::IsNotFound(status); }

bool IsUnimplemented(const absl::Status& status) { return absl::IsUnimplemented(status); }

}  // namespace inplaced::cri
