#pragma once

// gMock matchers for absl::Status and absl::StatusOr<T>, which the installed abseil does not ship.
//   EXPECT_THAT(s, IsOk());
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, HasSubstr("pod")));

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace inplaced::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code, "has code " + ::testing::PrintToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + ::testing::PrintToString(code) + " and a matching message") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::SafeMatcherCast<const std::string&>(message_matcher)
             .MatchAndExplain(std::string(status.message()), result_listener);
}

}  // namespace inplaced::testing

// Asserts that a StatusOr is OK and moves its value into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(INPLACED_TEST_CONCAT(statusor_, __LINE__), lhs, expr)
#define INPLACED_TEST_CONCAT_INNER(a, b) a##b
#define INPLACED_TEST_CONCAT(a, b) INPLACED_TEST_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  ASSERT_TRUE(statusor.ok()) << statusor.status();     \
  lhs = std::move(statusor).value()

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::inplaced::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::inplaced::testing::IsOk())
