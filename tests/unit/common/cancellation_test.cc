#include "common/cancellation.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace inplaced {
namespace {

TEST(CancellationTest, RunsRegisteredCallbacksOnceOnCancel) {
  Cancellation cancel;
  int runs = 0;
  cancel.Register([&] { ++runs; });
  EXPECT_FALSE(cancel.IsCancelled());
  cancel.Cancel();
  cancel.Cancel();
  EXPECT_TRUE(cancel.IsCancelled());
  EXPECT_EQ(runs, 1);
}

TEST(CancellationTest, RegisterAfterCancelRunsAtOnce) {
  Cancellation cancel;
  cancel.Cancel();
  bool ran = false;
  EXPECT_EQ(cancel.Register([&] { ran = true; }), -1);
  EXPECT_TRUE(ran);
}

TEST(CancellationTest, UnregisteredCallbackNeverRuns) {
  Cancellation cancel;
  bool ran = false;
  const int id = cancel.Register([&] { ran = true; });
  cancel.Unregister(id);
  cancel.Cancel();
  EXPECT_FALSE(ran);
}

TEST(CancellationTest, CancelFromAnotherThreadIsSeen) {
  Cancellation cancel;
  std::atomic<bool> called{false};
  cancel.Register([&] { called = true; });
  std::thread canceller([&] { cancel.Cancel(); });
  canceller.join();
  EXPECT_TRUE(called.load());
  EXPECT_TRUE(cancel.IsCancelled());
}

}  // namespace
}  // namespace inplaced
