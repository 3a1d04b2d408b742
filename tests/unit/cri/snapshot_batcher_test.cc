#include "cri/snapshot_batcher.h"

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cri {
namespace {

using ::inplaced::testing::Eventually;
using ::inplaced::testing::StatusIs;

constexpr int kPods = 3;
constexpr int kFollowers = 5;

class SnapshotBatcherTest : public ::testing::Test {
 protected:
  SnapshotBatcherTest() : runtime_(clock_), batcher_(runtime_) { runtime_.AddPods(kPods, 1); }

  // A targeted read that must not run: a caller that had company shares the whole-node read.
  static absl::StatusOr<NodeSnapshot> NotAlone() {
    ADD_FAILURE() << "a caller with company made its own read";
    return NodeSnapshot();
  }

  // Starts a first caller whose targeted read blocks until `release_`, and waits until it runs.
  void StartBlockedRead() {
    first_ = std::thread([this] {
      absl::StatusOr<std::shared_ptr<const NodeSnapshot>> result = batcher_.Read([this] {
        entered_.Notify();
        release_.WaitForNotification();
        return absl::StatusOr<NodeSnapshot>(NodeSnapshot());  // no pod: tells it apart
      });
      ASSERT_OK(result.status());
      EXPECT_TRUE((*result)->pods().empty());
    });
    entered_.WaitForNotification();
  }

  // kFollowers callers that arrive while the first read runs; each result lands in `results`.
  std::vector<std::thread> StartFollowers(
      std::vector<absl::StatusOr<std::shared_ptr<const NodeSnapshot>>>* results) {
    results->assign(kFollowers, absl::UnknownError("not answered"));
    std::vector<std::thread> followers;
    for (int i = 0; i < kFollowers; ++i) {
      followers.emplace_back([this, results, i] { (*results)[i] = batcher_.Read(&NotAlone); });
    }
    EXPECT_TRUE(Eventually([&] { return batcher_.waiting() == kFollowers; }));
    return followers;
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_;
  SnapshotBatcher batcher_;
  absl::Notification entered_, release_;
  std::thread first_;
};

TEST_F(SnapshotBatcherTest, ACallerAloneMakesItsOwnTargetedRead) {
  int targeted = 0;
  absl::StatusOr<std::shared_ptr<const NodeSnapshot>> result = batcher_.Read([&] {
    ++targeted;
    return TakePodSnapshot(runtime_, "bulk", "pod-00000");
  });
  ASSERT_OK(result.status());
  EXPECT_EQ(targeted, 1);
  EXPECT_EQ((*result)->pods().size(), 1u);
  EXPECT_EQ(batcher_.stats().rounds, 1);
  EXPECT_EQ(batcher_.stats().whole_node, 0);
}

TEST_F(SnapshotBatcherTest, CallersArrivingDuringAReadShareOneWholeNodeReadStartedAfterThem) {
  StartBlockedRead();
  std::vector<absl::StatusOr<std::shared_ptr<const NodeSnapshot>>> results;
  std::vector<std::thread> followers = StartFollowers(&results);
  runtime_.ClearCalls();
  release_.Notify();
  first_.join();
  for (std::thread& follower : followers) follower.join();

  // Not the running read's answer (it may predate what they know): one read after it, for all.
  for (const auto& result : results) {
    ASSERT_OK(result.status());
    EXPECT_EQ((*result)->pods().size(), static_cast<size_t>(kPods));
    EXPECT_EQ(result->get(), results[0]->get());
  }
  EXPECT_EQ(runtime_.CallCount("ListPodSandbox"), 1);
  EXPECT_EQ(runtime_.CallCount("ListContainers"), 1);
  const SnapshotBatcher::Stats stats = batcher_.stats();
  EXPECT_EQ(stats.rounds, 2);
  EXPECT_EQ(stats.whole_node, 1);
  EXPECT_EQ(stats.callers, 1 + kFollowers);
}

TEST_F(SnapshotBatcherTest, AnErrorIsSharedByItsRoundAndTheNextRoundReadsAgain) {
  StartBlockedRead();
  std::vector<absl::StatusOr<std::shared_ptr<const NodeSnapshot>>> results;
  std::vector<std::thread> followers = StartFollowers(&results);
  runtime_.InjectError("ListPodSandbox", absl::UnavailableError("runtime restarting"));
  release_.Notify();
  first_.join();
  for (std::thread& follower : followers) follower.join();
  for (const auto& result : results) {
    EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kUnavailable));
  }

  absl::StatusOr<std::shared_ptr<const NodeSnapshot>> later =
      batcher_.Read([&] { return TakeSnapshot(runtime_); });
  ASSERT_OK(later.status());
  EXPECT_EQ((*later)->pods().size(), static_cast<size_t>(kPods));
}

}  // namespace
}  // namespace inplaced::cri
