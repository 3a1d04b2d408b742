#include "cri/errors.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cri {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;

TEST(ErrorsTest, EveryCanonicalCodeKeepsItsNumberAndGetsTheCallPrefix) {
  struct Case {
    grpc::StatusCode grpc_code;
    absl::StatusCode absl_code;
  };
  const std::vector<Case> cases = {
      {grpc::StatusCode::CANCELLED, absl::StatusCode::kCancelled},
      {grpc::StatusCode::UNKNOWN, absl::StatusCode::kUnknown},
      {grpc::StatusCode::INVALID_ARGUMENT, absl::StatusCode::kInvalidArgument},
      {grpc::StatusCode::DEADLINE_EXCEEDED, absl::StatusCode::kDeadlineExceeded},
      {grpc::StatusCode::NOT_FOUND, absl::StatusCode::kNotFound},
      {grpc::StatusCode::ALREADY_EXISTS, absl::StatusCode::kAlreadyExists},
      {grpc::StatusCode::PERMISSION_DENIED, absl::StatusCode::kPermissionDenied},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, absl::StatusCode::kResourceExhausted},
      {grpc::StatusCode::FAILED_PRECONDITION, absl::StatusCode::kFailedPrecondition},
      {grpc::StatusCode::ABORTED, absl::StatusCode::kAborted},
      {grpc::StatusCode::OUT_OF_RANGE, absl::StatusCode::kOutOfRange},
      {grpc::StatusCode::UNIMPLEMENTED, absl::StatusCode::kUnimplemented},
      {grpc::StatusCode::INTERNAL, absl::StatusCode::kInternal},
      {grpc::StatusCode::UNAVAILABLE, absl::StatusCode::kUnavailable},
      {grpc::StatusCode::DATA_LOSS, absl::StatusCode::kDataLoss},
      {grpc::StatusCode::UNAUTHENTICATED, absl::StatusCode::kUnauthenticated},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.grpc_code));
    const absl::Status status = FromGrpcStatus(grpc::Status(c.grpc_code, "boom"), "StopContainer");
    EXPECT_EQ(status.code(), c.absl_code);
    EXPECT_EQ(status.message(), "StopContainer: boom");
  }
}

TEST(ErrorsTest, OkStaysOk) { EXPECT_THAT(FromGrpcStatus(grpc::Status::OK, "Version"), IsOk()); }

TEST(ErrorsTest, IdempotentCallsTreatNotFoundAsSuccess) {
  // containerd 1.6.20 answers NOT_FOUND to StopContainer of an unknown id.
  EXPECT_THAT(
      FromGrpcStatusIdempotent(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                            "an error occurred when try to find container \"abc\""),
                               "StopContainer"),
      IsOk());
  EXPECT_THAT(FromGrpcStatusIdempotent(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"),
                                       "StopContainer"),
              StatusIs(absl::StatusCode::kUnavailable, "StopContainer: down"));
  EXPECT_THAT(FromGrpcStatusIdempotent(grpc::Status::OK, "RemoveImage"), IsOk());
}

TEST(ErrorsTest, IsNotFoundOnlyForNotFound) {
  EXPECT_TRUE(cri::IsNotFound(absl::NotFoundError("x")));
  EXPECT_FALSE(cri::IsNotFound(absl::UnknownError("not found")));
  EXPECT_FALSE(cri::IsNotFound(absl::OkStatus()));
  EXPECT_TRUE(cri::IsUnimplemented(absl::UnimplementedError("unknown service")));
  EXPECT_FALSE(cri::IsUnimplemented(absl::NotFoundError("x")));
}

}  // namespace
}  // namespace inplaced::cri
