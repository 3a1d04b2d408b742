#include "common/field_checks.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace inplaced {
namespace {

constexpr int64_t kYear = int64_t{365} * 24 * 60 * 60;

TEST(FieldChecksTest, InvalidFieldPrefixesThePath) {
  const absl::Status status = InvalidField("spec.containers[1].name", "required");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "spec.containers[1].name: required");
}

TEST(FieldChecksTest, NonNegativeRefusesBelowZeroOnly) {
  EXPECT_TRUE(CheckNonNegative("tags[0].version", 0).ok());
  EXPECT_TRUE(CheckNonNegative("tags[0].version", 7).ok());
  const absl::Status status = CheckNonNegative("expected_generation", -2);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "expected_generation: must not be negative, got -2");
}

TEST(FieldChecksTest, SecondsInRangeAcceptTheBounds) {
  EXPECT_TRUE(CheckSecondsInRange("a", 0, 0, kYear).ok());
  EXPECT_TRUE(CheckSecondsInRange("a", 3, 3, kYear).ok());
  EXPECT_TRUE(CheckSecondsInRange("a", kYear, 0, kYear).ok());
}

TEST(FieldChecksTest, SecondsBelowZeroMinimumAreNegative) {
  const absl::Status status = CheckSecondsInRange("spec.ttl_seconds_after_finished", -1, 0, kYear);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "spec.ttl_seconds_after_finished: must not be negative, got -1");
}

TEST(FieldChecksTest, SecondsBelowPositiveMinimumNameTheMinimum) {
  EXPECT_EQ(CheckSecondsInRange("spec.active_deadline_seconds", 2, 3, kYear).message(),
            "spec.active_deadline_seconds: must be at least 3, got 2");
  EXPECT_EQ(CheckSecondsInRange("pull_policy.timeout_seconds", 0, 1, kYear).message(),
            "pull_policy.timeout_seconds: must be at least 1, got 0");
}

TEST(FieldChecksTest, SecondsAboveMaximumNameTheMaximumInDays) {
  const absl::Status status = CheckSecondsInRange("sleep.seconds", kYear + 1, 0, kYear);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "sleep.seconds: must be at most 31536000 (365 days), got 31536001");
}

}  // namespace
}  // namespace inplaced

namespace inplaced {
namespace {

TEST(FieldChecksTest, FormatBytesReadsLikeAPerson) {
  EXPECT_EQ(FormatBytes(0), "0 bytes");
  EXPECT_EQ(FormatBytes(1), "1 byte");
  EXPECT_EQ(FormatBytes(1023), "1023 bytes");
  EXPECT_EQ(FormatBytes(1024), "1 KiB");
  EXPECT_EQ(FormatBytes(64 * 1024), "64 KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{7} << 19), "3.5 MiB");
  EXPECT_EQ(FormatBytes(uint64_t{1} << 20), "1 MiB");
}

TEST(FieldChecksTest, MaxBytesNamesSizeAndLimit) {
  EXPECT_TRUE(CheckMaxBytes("a", 65536, 65536).ok());
  const absl::Status status =
      CheckMaxBytes("spec.containers[2].pre_stop.exec.command", uint64_t{7} << 19, 65536);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "spec.containers[2].pre_stop.exec.command: 3.5 MiB exceeds the 64 KiB limit");
  EXPECT_EQ(CheckMaxBytes("spec", 65537, 65536).message(),
            "spec: 65537 bytes exceeds the 65536-byte limit (64 KiB)");
}

TEST(FieldChecksTest, MaxCountNamesCountAndLimit) {
  EXPECT_TRUE(CheckMaxCount("a", 3, 3).ok());
  EXPECT_EQ(CheckMaxCount("spec.containers[0].ports", 129, 128).message(),
            "spec.containers[0].ports: at most 128 are allowed, got 129");
}

}  // namespace
}  // namespace inplaced
