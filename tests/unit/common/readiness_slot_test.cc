#include "common/readiness_slot.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

struct Engine {
  int id = 0;
};

TEST(ReadinessSlotTest, EmptySlotGivesNullAndTheStartingError) {
  ReadinessSlot<Engine> slot;
  EXPECT_EQ(slot.Get(), nullptr);
  EXPECT_THAT(slot.GetOrNotReady().status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("inplaced is starting: retry")));
}

TEST(ReadinessSlotTest, SetTargetIsWhatEveryLaterGetReturns) {
  Engine engine{7};
  ReadinessSlot<Engine> slot;
  slot.Set(&engine);
  EXPECT_EQ(slot.Get(), &engine);
  absl::StatusOr<Engine*> ready = slot.GetOrNotReady();
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ((*ready)->id, 7);
}

TEST(ReadinessSlotTest, SlotBuiltOverATargetIsReadyFromTheStart) {
  Engine engine;
  ReadinessSlot<Engine> slot(&engine);
  EXPECT_EQ(slot.Get(), &engine);
}

TEST(ReadinessSlotTest, NotReadyErrorIsUnavailable) {
  EXPECT_THAT(NotReadyError(), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace inplaced
