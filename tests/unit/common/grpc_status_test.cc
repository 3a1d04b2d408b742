#include "common/grpc_status.h"

#include "gtest/gtest.h"

namespace inplaced {
namespace {

TEST(GrpcStatusTest, EveryCanonicalCodeKeepsItsNumberAndMessageBothWays) {
  for (int code = 1; code <= 16; ++code) {
    SCOPED_TRACE(code);
    const grpc::Status grpc_status(static_cast<grpc::StatusCode>(code), "boom");
    const absl::Status absl_status = FromGrpcStatus(grpc_status);
    EXPECT_EQ(static_cast<int>(absl_status.code()), code);
    EXPECT_EQ(absl_status.message(), "boom");
    const grpc::Status back = ToGrpcStatus(absl_status);
    EXPECT_EQ(back.error_code(), grpc_status.error_code());
    EXPECT_EQ(back.error_message(), "boom");
  }
}

TEST(GrpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(GrpcStatusTest, NonCanonicalCodesBecomeUnknown) {
  // 20 is past the last canonical code (16) but inside grpc::StatusCode's value range (0..31), so the
  // cast is defined behaviour.
  EXPECT_EQ(FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(20), "x")).code(),
            absl::StatusCode::kUnknown);
  EXPECT_EQ(ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "x")).error_code(),
            grpc::StatusCode::UNKNOWN);
}

}  // namespace
}  // namespace inplaced
