#include "daemon/server/serving_state.h"

#include "gtest/gtest.h"

namespace inplaced::daemon {
namespace {

TEST(ServingStateTest, PhasesGoStartingServingStoppingAndStoppingIsFinal) {
  ServingState state;
  EXPECT_EQ(state.phase(), ServingPhase::kStarting);
  EXPECT_FALSE(state.serving());
  state.SetServing();
  EXPECT_TRUE(state.serving());
  state.SetStopping();
  EXPECT_EQ(state.phase(), ServingPhase::kStopping);
  state.SetServing();
  EXPECT_EQ(state.phase(), ServingPhase::kStopping);
}

TEST(ServingStateTest, WaitForChangeReturnsTheNewPhaseAtOnce) {
  ServingState state;
  state.SetServing();
  // Would block for an hour if it waited for a change that already happened.
  EXPECT_EQ(state.WaitForChange(ServingPhase::kStarting, absl::Hours(1)), ServingPhase::kServing);
  EXPECT_EQ(state.WaitForChange(ServingPhase::kServing, absl::ZeroDuration()),
            ServingPhase::kServing);
}

TEST(ServingStateTest, ActiveCallsAreCountedUntilTheirScopeEnds) {
  ServingState state;
  EXPECT_TRUE(state.WaitForNoActiveCalls(absl::ZeroDuration()));
  {
    ServingState::ActiveCall first(state);
    ServingState::ActiveCall second(state);
    EXPECT_EQ(state.active_calls(), 2);
    EXPECT_FALSE(state.WaitForNoActiveCalls(absl::ZeroDuration()));
  }
  EXPECT_EQ(state.active_calls(), 0);
  EXPECT_TRUE(state.WaitForNoActiveCalls(absl::Hours(1)));
}

TEST(ServingStateTest, WatchStreamSlotsAreCappedAndFreedWithTheirScope) {
  ServingState state;
  {
    ServingState::WatchStreamSlot unlimited(state);  // no cap set: any number
    EXPECT_TRUE(unlimited.status().ok());
  }
  state.SetMaxWatchStreams(2);
  {
    ServingState::WatchStreamSlot first(state);
    ServingState::WatchStreamSlot second(state);
    EXPECT_TRUE(first.status().ok());
    EXPECT_TRUE(second.status().ok());
    EXPECT_EQ(state.open_watch_streams(), 2);
    ServingState::WatchStreamSlot third(state);
    EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(state.open_watch_streams(), 2) << "a refused slot holds nothing";
  }
  EXPECT_EQ(state.open_watch_streams(), 0);
  ServingState::WatchStreamSlot again(state);
  EXPECT_TRUE(again.status().ok());
}

}  // namespace
}  // namespace inplaced::daemon
