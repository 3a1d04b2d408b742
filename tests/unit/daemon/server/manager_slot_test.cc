#include "daemon/server/manager_slot.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/daemon/server/mock_recreate_manager.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::StatusIs;
using ::testing::_;
using ::testing::Return;
using ::testing::StrictMock;

TEST(ManagerSlotTest, UnsetSlotAnswersUnavailable) {
  ManagerSlot slot;
  EXPECT_THAT(slot.Create({}).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slot.Get({}).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slot.List({}).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slot.Delete({}), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slot.AcknowledgeUnready({}).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slot.ReportReadiness({}).status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slot.Watch({}).status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ManagerSlotTest, SetSlotForwardsEveryCall) {
  StrictMock<MockRecreateManager> target;
  ManagerSlot slot;
  slot.Set(&target);
  EXPECT_CALL(target, Create(_)).WillOnce(Return(api::CreateRecreateRequestResponse()));
  EXPECT_CALL(target, Get(_)).WillOnce(Return(absl::NotFoundError("x")));
  EXPECT_CALL(target, List(_)).WillOnce(Return(api::ListRecreateRequestsResponse()));
  EXPECT_CALL(target, Delete(_)).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(target, AcknowledgeUnready(_)).WillOnce(Return(api::RecreateRequest()));
  EXPECT_CALL(target, ReportReadiness(_)).WillOnce(Return(api::RecreateRequest()));
  EXPECT_CALL(target, Watch(_)).WillOnce(Return(absl::InvalidArgumentError("namespace")));
  EXPECT_TRUE(slot.Create({}).ok());
  EXPECT_THAT(slot.Get({}).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(slot.List({}).ok());
  EXPECT_TRUE(slot.Delete({}).ok());
  EXPECT_TRUE(slot.AcknowledgeUnready({}).ok());
  EXPECT_TRUE(slot.ReportReadiness({}).ok());
  EXPECT_THAT(slot.Watch({}).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace inplaced::daemon
